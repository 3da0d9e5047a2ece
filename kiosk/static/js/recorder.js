/* Infocentre kiosk: the voice recorder every recording page shares (a course's voices, a story).
   Big Record / Stop / Listen again / Keep / Redo buttons around the browser's MediaRecorder,
   Opus as the browser records it (WebM in Chromium, Ogg in Firefox), a clock, and a level
   meter (Web Audio's AnalyserNode) that moves while the voice is heard, so a person who does
   not read sees that the microphone hears them. What "Keep" does is the page's:

   - a story form (a recorder with data-attach) puts the recording into the form's file field
     and it is saved with the rest of the form;
   - other pages call KioskRecorder.setUp(box, {keep: ...}) (voices.js sends it at once).

   Pages work without this file: each has a field that sends a recording made elsewhere. The
   microphone needs a secure context (the kiosk's own screen, localhost); elsewhere the page's
   [data-insecure] notice shows and only the field remains. */
"use strict";

(function () {
  var TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus"];
  var canRecord = Boolean(window.isSecureContext && navigator.mediaDevices &&
    navigator.mediaDevices.getUserMedia && window.MediaRecorder);
  var type = null;
  if (canRecord) {
    type = TYPES.filter(function (t) { return MediaRecorder.isTypeSupported(t); })[0] || null;
  }
  var current = null; // the recorder recording now: one at a time on a page

  function clockText(seconds) {
    return Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
  }

  function setting(box, name) {
    var holder = box.closest("[data-" + name + "]");
    return holder ? holder.getAttribute("data-" + name) : null;
  }

  // The level meter: how loud the microphone hears, drawn as a bar (0 to 100%).
  function listenLevel(stream, meter) {
    var AudioContext = window.AudioContext || window.webkitAudioContext;
    if (!meter || !AudioContext) { return function () {}; }
    var bar = meter.querySelector("[data-level]");
    var context = new AudioContext();
    var analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    context.createMediaStreamSource(stream).connect(analyser);
    var samples = new Uint8Array(analyser.fftSize);
    var shown = 0;
    meter.hidden = false;
    var timer = window.setInterval(function () {
      analyser.getByteTimeDomainData(samples);
      var peak = 0;
      for (var i = 0; i < samples.length; i += 1) {
        peak = Math.max(peak, Math.abs(samples[i] - 128) / 128);
      }
      // Quick to rise, slow to fall, and a quiet voice still shows (square root).
      var level = Math.min(1, Math.sqrt(peak));
      shown = level > shown ? level : shown * 0.85 + level * 0.15;
      var percent = Math.round(shown * 100);
      bar.style.inlineSize = percent + "%";
      meter.setAttribute("data-value", String(percent));
      meter.classList.toggle("loud", shown > 0.95);
    }, 60);
    return function () {
      window.clearInterval(timer);
      bar.style.inlineSize = "0";
      meter.setAttribute("data-value", "0");
      meter.hidden = true;
      context.close();
    };
  }

  /* Set up one recorder box. options.keep(blob, info, done): keep the recording; info has
     extension and seconds; call done(true) when kept (with a message) or done(false, error).
     options.drop(): forget a kept recording (Redo after Keep). */
  function setUp(box, options) {
    var buttons = {};
    box.querySelectorAll("[data-act]").forEach(function (b) {
      buttons[b.getAttribute("data-act")] = b;
    });
    var preview = box.querySelector("[data-preview]");
    var message = box.querySelector("[data-message]");
    var clock = box.querySelector("[data-time]");
    var meter = box.querySelector("[data-meter]");
    var keptMark = box.querySelector("[data-kept]");
    var limit = Number(setting(box, "limit")) || Infinity;
    var maxSeconds = Number(setting(box, "max-seconds")) || 600;
    var msg = function (name) { return setting(box, "msg-" + name) || ""; };
    var state = { recorder: null, stream: null, blob: null, url: null, timer: null,
      seconds: 0, stopMeter: null, kept: false };

    function show(names) {
      Object.keys(buttons).forEach(function (name) {
        buttons[name].hidden = names.indexOf(name) < 0;
      });
      box.setAttribute("data-state", names.indexOf("stop") >= 0 ? "recording" :
        state.kept ? "kept" : state.blob ? "review" : "ready");
    }
    function say(text, isError) {
      message.textContent = text || "";
      message.classList.toggle("field-error", Boolean(isError));
    }
    function release() {
      if (state.stopMeter) { state.stopMeter(); }
      state.stopMeter = null;
      if (state.stream) { state.stream.getTracks().forEach(function (t) { t.stop(); }); }
      state.stream = null;
      window.clearInterval(state.timer);
      if (current === box) { current = null; }
    }
    function forget() {
      preview.pause();
      if (state.url) { URL.revokeObjectURL(state.url); }
      state.blob = null;
      state.url = null;
      if (state.kept && options.drop) { options.drop(); }
      state.kept = false;
      if (keptMark) { keptMark.hidden = true; }
    }

    box.hidden = false;
    if (!type) {
      say(msg("unsupported"), true);
      show([]);
      return null;
    }
    show(["record"]);

    buttons.record.addEventListener("click", function () {
      if (current && current !== box) { return; }
      forget();
      say("");
      navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
        var parts = [];
        var started = Date.now();
        current = box;
        state.stream = stream;
        state.recorder = new MediaRecorder(stream, { mimeType: type, audioBitsPerSecond: 32000 });
        state.recorder.addEventListener("dataavailable", function (event) {
          if (event.data && event.data.size) { parts.push(event.data); }
        });
        state.recorder.addEventListener("stop", function () {
          release();
          state.blob = new Blob(parts, { type: type.split(";")[0] });
          if (!state.blob.size) {
            state.blob = null;
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
        try {
          state.stopMeter = listenLevel(stream, meter);
        } catch (e) {
          state.stopMeter = null; // the recording works without its meter
        }
        state.seconds = 0;
        clock.textContent = "0:00";
        state.timer = window.setInterval(function () {
          state.seconds = Math.floor((Date.now() - started) / 1000);
          clock.textContent = clockText(state.seconds);
          // A long story is activity: the idle sign-out must not cut it (app.js listens).
          box.dispatchEvent(new CustomEvent("kiosk:activity", { bubbles: true }));
          if (state.seconds >= maxSeconds) { state.recorder.stop(); }
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

    function keep() {
      if (!state.blob) { return; }
      if (state.blob.size > limit) {
        say(msg("too-big") || msg("failed"), true);
        return;
      }
      preview.pause();
      var shown = ["play", "keep", "redo"];
      show([]);
      options.keep(state.blob, {
        extension: type.indexOf("ogg") >= 0 ? "ogg" : "webm", seconds: state.seconds
      }, function (ok, text) {
        if (ok) {
          state.kept = true;
          if (keptMark) { keptMark.hidden = false; }
          say(text || "");
          show(["play", "redo"]);
          buttons.play.focus();
        } else {
          say(text || msg("failed"), true);
          show(shown);
        }
      });
    }
    buttons.keep.addEventListener("click", keep);

    return {
      recording: function () { return current === box; },
      waiting: function () { return Boolean(state.blob) && !state.kept; },
      keep: keep
    };
  }

  window.KioskRecorder = { canRecord: canRecord, setUp: setUp };

  if (document.querySelector("[data-recorder]") && !canRecord) {
    var warning = document.querySelector("[data-insecure]");
    if (warning) { warning.hidden = false; }
  }

  // The story form: Keep puts the recording into the form's own file field.
  var form = document.querySelector("[data-story-form]");
  if (!form) { return; }
  var box = form.querySelector("[data-recorder][data-attach]");
  var recorder = null;
  if (box && canRecord) {
    var input = box.querySelector("input[type=file][data-recording]");
    var seconds = box.querySelector("[data-seconds]");
    recorder = setUp(box, {
      keep: function (blob, info, done) {
        var files = new DataTransfer();
        files.items.add(new File([blob], "story." + info.extension, { type: blob.type }));
        input.files = files.files;
        seconds.value = String(info.seconds);
        done(true, setting(box, "msg-kept"));
      },
      drop: function () {
        input.value = "";
        seconds.value = "";
      }
    });
  }

  // Before sending: a file too big is refused here, beside its field, before a byte leaves
  // (the server refuses it too, but a browser shows that badly in the middle of an upload);
  // the title and the consent are asked for in the page's language.
  function problem(field, text) {
    var shown = form.querySelector("[data-error-for='" + field + "']");
    if (!shown) { return; }
    shown.textContent = text || "";
    shown.hidden = !text;
  }
  function tooBig(input) {
    var limit = Number(input.getAttribute("data-max-bytes"));
    var total = 0;
    Array.prototype.forEach.call(input.files || [], function (f) { total += f.size; });
    return limit && total > limit;
  }
  form.querySelectorAll("input[type=file][data-max-bytes]").forEach(function (input) {
    input.addEventListener("change", function () {
      var field = input.getAttribute("data-field");
      if (tooBig(input)) {
        problem(field, input.getAttribute("data-too-big"));
        input.value = "";
        input.dispatchEvent(new Event("change", { bubbles: true }));
      } else if (input.files && input.files.length) {
        problem(field, "");
      }
    });
  });
  form.addEventListener("submit", function (event) {
    var first = null;
    function refuse(field, text, target) {
      problem(field, text);
      first = first || target;
    }
    if (recorder && recorder.recording()) {
      refuse("audio", form.getAttribute("data-msg-stop-first"), box);
    } else if (recorder && recorder.waiting()) {
      recorder.keep(); // Save was pressed: the recording listened to is wanted
    }
    var title = form.querySelector("[name=title]");
    if (title && !title.value.trim()) {
      refuse("title", form.getAttribute("data-msg-title"), title);
    } else { problem("title", ""); }
    var consents = form.querySelectorAll("input[name=consent]");
    if (consents.length && !form.querySelector("input[name=consent]:checked")) {
      refuse("consent", form.getAttribute("data-msg-consent"), consents[0]);
    } else { problem("consent", ""); }
    if (first) {
      event.preventDefault();
      first.scrollIntoView({ block: "center" });
      if (first.focus) { first.focus({ preventScroll: true }); }
    }
  });
})();
