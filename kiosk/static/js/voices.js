/* Infocentre kiosk: recording the voice of a course's texts (the facilitators' page only), with
   the shared recorder (recorder.js, loaded first). Keep sends the recording at once with the
   card's own upload form, and the page reloads to show it kept. The page works without this
   file: each card's form sends a recording made elsewhere. */
"use strict";

(function () {
  var list = document.querySelector("[data-voice-list]");
  if (!list || !window.KioskRecorder || !window.KioskRecorder.canRecord) { return; }

  function sendWith(form) {
    return function (blob, info, done) {
      var data = new FormData(form);
      data.set("audio", blob, "voice." + info.extension);
      fetch(form.action, {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "Accept": "application/json" }
      }).then(function (response) {
        return response.json().catch(function () { return { ok: false }; });
      }).then(function (reply) {
        if (reply.ok) {
          window.location.reload();
          return;
        }
        var error = reply.errors && reply.errors[0] && reply.errors[0].message;
        done(false, error);
      }).catch(function () {
        done(false);
      });
    };
  }

  list.querySelectorAll(".voice-card").forEach(function (card) {
    var box = card.querySelector("[data-recorder]");
    var message = box.querySelector("[data-message]");
    var keep = sendWith(card.querySelector("[data-voice-form]"));
    window.KioskRecorder.setUp(box, {
      keep: function (blob, info, done) {
        message.textContent = list.getAttribute("data-msg-sending");
        message.classList.remove("field-error");
        keep(blob, info, done);
      }
    });
  });
})();
