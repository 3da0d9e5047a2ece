/* Infocentre kiosk: recording the voice of a course's texts (the facilitators' page only).
   Record / Stop / Listen again / Keep / Redo with the browser's MediaRecorder, Opus as the
   browser records it (WebM in Chromium, Ogg in Firefox); Keep sends it with the card's own
   upload form. The page works without this file: each card's form sends a recording made
   elsewhere. The microphone needs a secure context (the kiosk's own screen, localhost); on a
   terminal reaching the centre over the network the page says so and keeps only the forms. */
"use strict";

(function () {
  var list = document.querySelector("[data-voice-list]");
  if (!list) { return; }
  var limit = Number(list.getAttribute("data-limit"));
  var MAX_SECONDS = 600;
  var msg = function (name) { return list.getAttribute("data-msg-" + name); };

  var canRecord = window.isSecureContext && navigator.mediaDevices &&
    navigator.mediaDevices.getUserMedia && window.MediaRecorder;
  if (!canRecord) {
    var warning = document.querySelector("[data-insecure]");
    if (warning) { warning.hidden = false; }
    return;
  }

  function pickType() {
    var types = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus"];
    for (var i = 0; i < types.length; i += 1) {
      if (MediaRecorder.isTypeSupported(types[i])) { return types[i]; }
    }
    return null;
  }
  var type = pickType();
  var current = null; // the card recording now: one at a time

  function setUp(card) {
    var box = card.querySelector("[data-recorder]");
    var form = card.querySelector("[data-voice-form]");
    var buttons = {};
    box.querySelectorAll("[data-act]").forEach(function (b) {
      buttons[b.getAttribute("data-act")] = b;
    });
    var preview = box.querySelector("[data-preview]");
    var message = box.querySelector("[data-message]");
    var clock = box.querySelector("[data-time]");
    var state = { recorder: null, stream: null, blob: null, url: null, timer: null };

    function show(names) {
      Object.keys(buttons).forEach(function (name) {
        buttons[name].hidden = names.indexOf(name) < 0;
      });
    }
    function say(text, isError) {
      message.textContent = text || "";
      message.classList.toggle("field-error", Boolean(isError));
    }
    function release() {
      if (state.stream) { state.stream.getTracks().forEach(function (t) { t.stop(); }); }
      state.stream = null;
      window.clearInterval(state.timer);
      if (current === card) { current = null; }
    }
    function forget() {
      preview.pause();
      if (state.url) { URL.revokeObjectURL(state.url); }
      state.blob = null;
      state.url = null;
    }

    box.hidden = false;
    if (!type) {
      say(msg("unsupported"), true);
      show([]);
      return;
    }
    show(["record"]);

    buttons.record.addEventListener("click", function () {
      if (current && current !== card) { return; }
      forget();
      say("");
      navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
        var parts = [];
        var started = Date.now();
        current = card;
        state.stream = stream;
        state.recorder = new MediaRecorder(stream, { mimeType: type, audioBitsPerSecond: 32000 });
        state.recorder.addEventListener("dataavailable", function (event) {
          if (event.data && event.data.size) { parts.push(event.data); }
        });
        state.recorder.addEventListener("stop", function () {
          release();
          state.blob = new Blob(parts, { type: type.split(";")[0] });
          if (!state.blob.size) {
            say(msg("empty"), true);
            show(["record"]);
            return;
          }
          state.url = URL.createObjectURL(state.blob);
          preview.src = state.url;
          show(["play", "keep", "redo"]);
          buttons.keep.focus();
        });
        state.recorder.start(1000);
        clock.textContent = "0:00";
        state.timer = window.setInterval(function () {
          var seconds = Math.floor((Date.now() - started) / 1000);
          clock.textContent = Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
          if (seconds >= MAX_SECONDS) { state.recorder.stop(); }
        }, 250);
        show(["stop"]);
        buttons.stop.focus();
      }).catch(function () {
        release();
        say(msg("denied"), true);
        show(["record"]);
      });
    });

    buttons.stop.addEventListener("click", function () {
      if (state.recorder && state.recorder.state !== "inactive") { state.recorder.stop(); }
    });

    buttons.play.addEventListener("click", function () {
      preview.currentTime = 0;
      preview.play();
    });

    buttons.redo.addEventListener("click", function () {
      forget();
      say("");
      show(["record"]);
      buttons.record.focus();
    });

    buttons.keep.addEventListener("click", function () {
      if (!state.blob) { return; }
      if (state.blob.size > limit) {
        say(msg("failed"), true);
        return;
      }
      preview.pause();
      var data = new FormData(form);
      var extension = type.indexOf("ogg") >= 0 ? "ogg" : "webm";
      data.set("audio", state.blob, "voice." + extension);
      show([]);
      say(msg("sending"));
      fetch(form.action, {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "Accept": "application/json" }
      }).then(function (response) {
        return response.json().catch(function () { return { ok: false }; });
      }).then(function (reply) {
        if (reply.ok) {
          forget();
          window.location.reload();
          return;
        }
        var error = reply.errors && reply.errors[0] && reply.errors[0].message;
        say(error || msg("failed"), true);
        show(["play", "keep", "redo"]);
      }).catch(function () {
        say(msg("failed"), true);
        show(["play", "keep", "redo"]);
      });
    });
  }

  list.querySelectorAll(".voice-card").forEach(setUp);
})();
