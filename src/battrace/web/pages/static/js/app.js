// battrace pages: small progressive enhancements. Every page works without this file except the
// upload centre, which sends the file with upload progress.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll('[data-action="print"]')) {
    button.addEventListener("click", () => window.print());
  }
  const form = document.getElementById("upload-form");
  if (form) setUpUpload(form);
});

function setUpUpload(form) {
  const progressBox = form.querySelector(".progress");
  const bar = document.getElementById("upload-progress");
  const status = document.getElementById("upload-status");
  const report = document.getElementById("upload-report");
  const messages = document.getElementById("upload-messages").content.firstElementChild.dataset;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const file = form.querySelector("#file").files[0];
    const step = form.querySelector("#step").value;
    if (!file) return;
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/my/upload/" + encodeURIComponent(step));
    xhr.setRequestHeader("X-CSRF-Token", form.dataset.csrf);
    xhr.setRequestHeader("X-Filename", encodeURIComponent(file.name));
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    progressBox.hidden = false;
    bar.value = 0;
    status.textContent = messages.sending;
    report.innerHTML = "";
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100);
    });
    xhr.upload.addEventListener("load", () => {
      bar.value = 100;
      status.textContent = messages.checking;
    });
    xhr.addEventListener("load", () => {
      status.textContent = "";
      progressBox.hidden = true;
      // The server answers with an HTML fragment rendered from a template (escaped there).
      const doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
      const section = doc.querySelector("section.report") || doc.querySelector("main") || doc.body;
      report.replaceChildren(document.importNode(section, true));
      const shown = report.firstElementChild;
      if (shown && shown.focus) shown.focus();
    });
    xhr.addEventListener("error", () => {
      progressBox.hidden = true;
      status.textContent = "";
      report.textContent = messages.failed;
    });
    xhr.send(file);
  });
}
