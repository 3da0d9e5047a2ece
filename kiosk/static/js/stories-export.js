/* The export's page: asks the hub for the export's progress every two seconds (JSON) and shows
   it; when the export has ended, reloads the page, which then offers the download or says what
   went wrong. (Without JavaScript the page reloads itself every three seconds.) */
(function () {
  "use strict";
  var box = document.getElementById("export-state");
  if (!box) return;
  var url = box.getAttribute("data-status");
  var count = document.getElementById("export-count");
  var total = document.getElementById("export-total");
  var bar = document.getElementById("export-progress");

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (answer) { return answer.ok ? answer.json() : Promise.reject(answer.status); })
      .then(function (job) {
        if (job.state === "running") {
          count.textContent = job.done_text;
          total.textContent = job.total_text;
          bar.max = job.total || 1;
          bar.value = job.done;
          window.setTimeout(poll, 2000);
        } else {
          window.location.reload(); // the page made by the hub says what the file holds
        }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
}());
