#!/usr/bin/env python3
"""Maintain the gettext catalogues in locales/.

    scripts/catalogues.py update    extract messages from the code into every .po file
    scripts/catalogues.py compile   write the .mo files (run by scripts/run and scripts/test)
    scripts/catalogues.py status    how many messages each language has translated
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kiosk import catalogues  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("update", "compile", "status"))
    args = parser.parse_args()
    if args.command == "update":
        template = catalogues.update()
        print(f"{len(template)} messages extracted; catalogues updated: "
              f"{', '.join(catalogues.codes())}")
    elif args.command == "compile":
        for path in catalogues.compile_all():
            print(f"compiled {path.relative_to(catalogues.ROOT)}")
    else:
        template = catalogues.extract()
        for code in catalogues.codes():
            catalog = catalogues.read(code)
            done = sum(1 for m in template if m.id and m.id in catalog
                       and catalogues.is_translated(catalog[m.id]))
            print(f"{code:<6} {done:>4} / {len(template)} translated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
