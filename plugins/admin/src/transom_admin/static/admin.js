/* Transom admin: forms marked data-api are sent as JSON to Transom's own REST API
   (sign in with mode "session", sign out, password reset); data-confirm asks first. */
(function () {
  "use strict";
  function messages(body) {
    if (body && Array.isArray(body.errors)) {
      return body.errors.map(function (e) { return e.message; });
    }
    return ["Something went wrong. Try again."];
  }
  function show(box, lines) {
    box.textContent = "";
    lines.forEach(function (line) {
      var p = document.createElement("p");
      p.textContent = line;
      box.appendChild(p);
    });
    box.hidden = false;
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    if (!form.dataset.api) { return; }
    event.preventDefault();
    var body = form.dataset.extra ? JSON.parse(form.dataset.extra) : {};
    new FormData(form).forEach(function (value, key) { body[key] = value; });
    if (form.dataset.api === "/auth/logout") { body.mode = "session"; }
    var box = form.querySelector("[data-errors]");
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; }
    fetch(form.dataset.api, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json"},
      body: JSON.stringify(body)
    }).then(function (resp) {
      if (resp.ok) {
        if (form.dataset.done) {
          var done = form.querySelector("[data-done-message]");
          if (done) { done.textContent = form.dataset.done; done.hidden = false; }
          if (box) { box.hidden = true; }
        }
        if (form.dataset.next) { window.location.assign(form.dataset.next); }
        return null;
      }
      return resp.json().catch(function () { return null; }).then(function (json) {
        if (box) { show(box, messages(json)); box.focus(); }
      });
    }).catch(function () {
      if (box) { show(box, ["The server could not be reached."]); }
    }).finally(function () {
      if (button) { button.disabled = false; }
    });
  });
})();
/* File fields: upload the chosen file to POST /files (the files service, as the signed-in
   user), then select the new file's id in the field's list and preview it via /assets. */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.dataset || !input.dataset.upload || !input.files.length) { return; }
    var box = input.closest("[data-upload-for]");
    var status = box.querySelector("[data-upload-status]");
    var select = document.getElementById(input.dataset.target);
    var body = new FormData();
    body.append("file", input.files[0]);
    status.textContent = "Uploading…";
    fetch(input.dataset.upload, {method: "POST", credentials: "same-origin", body: body,
                                 headers: {"Accept": "application/json"}})
      .then(function (resp) { return resp.json().then(function (json) { return [resp, json]; }); })
      .then(function (pair) {
        var resp = pair[0], json = pair[1];
        if (!resp.ok) {
          status.textContent = (json.errors || [{message: "Upload failed."}])[0].message;
          return;
        }
        var file = json.data;
        var option = document.createElement("option");
        option.value = file.id;
        option.textContent = file.title || file.filename_download || file.id;
        select.appendChild(option);
        select.value = file.id;
        var preview = box.querySelector("[data-preview]");
        if (preview) { preview.src = "/assets/" + file.id + "?width=160"; preview.hidden = false; }
        status.textContent = "Uploaded " + option.textContent + ". Save to keep it.";
      })
      .catch(function () { status.textContent = "The server could not be reached."; });
  });
})();
/* WYSIWYG fields: a contenteditable area with a small toolbar replaces the textarea (which
   stays the form's field, filled on every change; the server sanitises what it saves).
   Without JavaScript the textarea itself is shown. */
(function () {
  "use strict";
  document.querySelectorAll("[data-rte]").forEach(function (box) {
    var area = box.querySelector(".rte-area");
    var bar = box.querySelector(".rte-toolbar");
    var text = box.querySelector("textarea");
    function sync() { text.value = area.innerHTML; }
    area.hidden = false;
    bar.hidden = false;
    text.hidden = true;
    area.addEventListener("input", sync);
    bar.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-cmd]");
      if (!button) { return; }
      var value = button.dataset.value || null;
      if (button.dataset.cmd === "createLink") {
        value = window.prompt("Link address (https://…)");
        if (!value) { return; }
      }
      area.focus();
      document.execCommand(button.dataset.cmd, false, value);
      sync();
    });
    document.querySelectorAll("label[for='" + text.id + "']").forEach(function (label) {
      label.addEventListener("click", function () { area.focus(); });
    });
  });
})();
/* After moving a related item (the page reloads at #move-<field>-<key>), put the focus back
   on that item's move buttons, so a keyboard user can press again. */
(function () {
  "use strict";
  if (location.hash.indexOf("#move-") !== 0) { return; }
  window.addEventListener("load", function () {
    var form = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    var button = form && form.querySelector("button:not([disabled])");
    if (button) { button.focus(); }
  });
})();
