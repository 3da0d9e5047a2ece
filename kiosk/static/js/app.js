/* Infocentre kiosk: small enhancements. Every page works without this file; it adds the
   live name filter, the on-screen PIN keypad, the idle countdown, the attendance count, the
   chosen photo's name in the page's language, the focus on a quiz's next step, and Listen
   buttons for recorded voices. */
"use strict";

(function () {
  document.documentElement.classList.add("js");

  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  // Certificates: a Print button (the page prints well without it, from the browser's menu).
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  // Choosing a photo: say which file was chosen, in the page's words around its name.
  document.querySelectorAll("[data-file-pick]").forEach(function (pick) {
    var input = pick.querySelector("input[type=file]");
    var shown = pick.querySelector("[data-file-name]");
    var none = shown.textContent;
    input.addEventListener("change", function () {
      var names = Array.prototype.map.call(input.files || [], function (f) { return f.name; });
      shown.textContent = names.length ? names.join(", ") : none;
      shown.dir = names.length ? "auto" : "";
      shown.classList.toggle("chosen", names.length > 0);
    });
  });

  // Attendance: a live count of the learners marked present (the form saves without it).
  var roll = document.querySelector("[data-attendance]");
  if (roll) {
    var counter = document.getElementById("present-count");
    var boxes = roll.querySelectorAll("input[name=present]");
    var count = function () {
      var here = 0;
      boxes.forEach(function (box) { if (box.checked) { here += 1; } });
      counter.textContent = counter.getAttribute("data-template")
        .replace("{present}", here).replace("{total}", boxes.length);
    };
    roll.addEventListener("change", count);
    count();
  }

  // Class pages (issue 16). "Everyone is here" ticks every box here, to untick the few who
  // are not (without JavaScript the server shows the list again, everyone ticked).
  document.querySelectorAll("[data-everyone]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      event.preventDefault();
      var form = button.form;
      form.querySelectorAll("input[name=present]").forEach(function (box) { box.checked = true; });
      form.dispatchEvent(new Event("change", { bubbles: true }));
    });
  });

  // Learners of a class: the "Add the ticked learners (N)" button counts the boxes ticked.
  document.querySelectorAll("[data-pick]").forEach(function (form) {
    var shown = form.querySelector("[data-picked]");
    var boxes = document.querySelectorAll("input[type=checkbox][form='" + form.id + "']");
    var count = function () {
      var ticked = 0;
      boxes.forEach(function (box) { if (box.checked) { ticked += 1; } });
      shown.textContent = "(" + ticked + ")";
    };
    boxes.forEach(function (box) { box.addEventListener("change", count); });
    count();
  });

  // Sign-in: keep only the names that start (or have a word starting) with what is typed.
  var filter = document.querySelector("[data-filter-names]");
  if (filter) {
    var people = document.querySelectorAll("[data-name]");
    var none = document.getElementById("no-names");
    var apply = function () {
      var typed = fold(filter.value.trim());
      var shown = 0;
      people.forEach(function (item) {
        var name = fold(item.getAttribute("data-name"));
        var match = !typed || name.indexOf(typed) === 0 ||
          name.split(/\s+/).some(function (word) { return word.indexOf(typed) === 0; });
        item.hidden = !match;
        if (match) { shown += 1; }
      });
      if (none) { none.hidden = shown > 0; }
    };
    filter.addEventListener("input", apply);
    apply();
  }

  // Quiz: after an answer, "Next question" has the focus, so Enter goes on; it names the
  // feedback for screen readers. (The browser has already scrolled the feedback into sight.)
  // After the page's load: the browser's own move to the address's #feedback comes first.
  var next = document.querySelector("[data-focus-next]");
  if (next) {
    window.addEventListener("load", function () {
      window.setTimeout(function () { next.focus({ preventScroll: true }); }, 0);
    });
  }

  // PIN keypad: the big buttons type into the PIN field; the check button sends the form.
  var pad = document.querySelector("[data-keypad]");
  if (pad) {
    var field = document.getElementById(pad.getAttribute("data-keypad"));
    pad.addEventListener("click", function (event) {
      var key = event.target.closest("button[data-key]");
      if (!key) { return; }
      var value = key.getAttribute("data-key");
      if (value === "back") {
        field.value = field.value.slice(0, -1);
      } else if (field.value.length < 6) {
        field.value += value;
      }
    });
  }

  // Voices beside a course's texts: a Listen button plays its recording, a second press stops
  // it, and one sound plays at a time. Without this file each recording's own player shows.
  var playing = null;
  var stopSound = function (button) {
    var sound = button.parentNode.querySelector("audio");
    sound.pause();
    sound.currentTime = 0;
  };
  var showListening = function (button, on) {
    var word = button.querySelector(".listen-word");
    if (!button.hasAttribute("data-listen-word")) {
      button.setAttribute("data-listen-word", word.textContent);
    }
    word.textContent = on ? button.getAttribute("data-stop")
      : button.getAttribute("data-listen-word");
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.classList.toggle("playing", on);
  };
  document.querySelectorAll("[data-listen]").forEach(function (button) {
    var sound = button.parentNode.querySelector("audio");
    sound.addEventListener("ended", function () {
      showListening(button, false);
      if (playing === button) { playing = null; }
    });
    button.addEventListener("click", function (event) {
      event.preventDefault();
      event.stopPropagation();
      if (playing === button) {
        stopSound(button);
        showListening(button, false);
        playing = null;
        return;
      }
      if (playing) {
        stopSound(playing);
        showListening(playing, false);
      }
      playing = button;
      showListening(button, true);
      var started = sound.play();
      if (started && started.catch) {
        started.catch(function () {
          showListening(button, false);
          if (playing === button) { playing = null; }
        });
      }
    });
  });

  // Idle countdown. The server signs a person out after the idle time whatever happens here;
  // this shows the last minute and lets the person stay. Recent activity on the page (typing,
  // touching, scrolling) renews the session quietly instead of interrupting.
  var body = document.body;
  var dialog = document.getElementById("idle");
  if (dialog && body.hasAttribute("data-seconds-left")) {
    var idleSeconds = Number(body.getAttribute("data-idle-seconds"));
    var deadline = Date.now() + Number(body.getAttribute("data-seconds-left")) * 1000;
    var warnMs = Math.min(60, idleSeconds / 2) * 1000;
    var lastActivity = 0;
    var lastRenewal = Date.now();
    var renewing = false;
    var count = document.getElementById("idle-count");
    var stay = document.getElementById("idle-stay");

    var renew = function () {
      if (renewing) { return; }
      renewing = true;
      fetch(body.getAttribute("data-keepalive"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": body.getAttribute("data-csrf"), "Accept": "application/json" }
      }).then(function (response) {
        if (!response.ok) { throw new Error("signed out"); }
        return response.json();
      }).then(function (reply) {
        deadline = Date.now() + reply.seconds_left * 1000;
        lastRenewal = Date.now();
        dialog.hidden = true;
      }).catch(function () {
        window.location.assign("/");
      }).then(function () { renewing = false; });
    };

    var signOut = function () {
      var form = document.getElementById("signout-form");
      var reason = document.createElement("input");
      reason.type = "hidden";
      reason.name = "reason";
      reason.value = "idle";
      form.appendChild(reason);
      form.submit();
    };

    // "kiosk:activity": a recording going on (recorder.js), though nobody touches the screen.
    ["pointerdown", "keydown", "wheel", "touchstart", "input", "kiosk:activity"].forEach(function (name) {
      document.addEventListener(name, function () { lastActivity = Date.now(); },
        { capture: true, passive: true });
    });
    stay.addEventListener("click", renew);

    var timer = window.setInterval(function () {
      var left = deadline - Date.now();
      if (left <= 0) {
        window.clearInterval(timer);
        signOut();
        return;
      }
      if (left > warnMs) { return; }
      if (dialog.hidden && lastActivity > lastRenewal) {
        renew();
        return;
      }
      var seconds = Math.ceil(left / 1000);
      count.textContent = Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
      if (dialog.hidden) {
        dialog.hidden = false;
        stay.focus();
      }
    }, 1000);
  }
})();

/* market: orders */
(function () {
  // Quantities: big − and + beside the number field, which works alone without this file.
  document.querySelectorAll("[data-stepper]").forEach(function (box) {
    var input = box.querySelector("input[type=number]");
    box.querySelectorAll("[data-step]").forEach(function (button) {
      button.addEventListener("click", function () {
        var value = parseInt(input.value, 10);
        var min = parseInt(input.min || "1", 10);
        var max = parseInt(input.max, 10);
        value = (isNaN(value) ? min : value) + parseInt(button.getAttribute("data-step"), 10);
        if (value < min) { value = min; }
        if (!isNaN(max) && value > max) { value = max; }
        input.value = String(value);
        input.dispatchEvent(new Event("input", { bubbles: true }));
      });
    });
  });
})();
