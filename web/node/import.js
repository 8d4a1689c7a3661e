// The admin's import page: uploads the chosen file as it is (XHR, so the upload's
// progress shows), then polls the import job until it is done. Text from the server is
// set with textContent only. Without script the page offers a paste form instead.
(function () {
  'use strict';
  var form = document.getElementById('upload');
  if (!form) return;
  var fileInput = document.getElementById('file');
  var uploadBar = document.getElementById('upload-progress');
  var importBar = document.getElementById('import-progress');
  var stateLine = document.getElementById('import-state');
  var errorList = document.getElementById('import-errors');
  var maxBytes = Number(form.dataset.maxBytes);

  function say(text) { stateLine.textContent = text; }

  function showErrors(errors) {
    errorList.textContent = '';
    (errors || []).forEach(function (e) {
      var li = document.createElement('li');
      var where = e.line !== undefined ? 'Line ' + e.line : 'Entry ' + e.entry;
      li.textContent = where + (e.path ? ' (' + e.path + ')' : '') + ': ' + e.message;
      errorList.appendChild(li);
    });
  }

  function poll(url) {
    var xhr = new XMLHttpRequest();
    xhr.open('GET', url);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.onload = function () {
      var job;
      try { job = JSON.parse(xhr.responseText); } catch (err) { job = null; }
      if (xhr.status !== 200 || !job) {
        say('The import could not be followed: ' + (job && job.error ? job.error : xhr.status));
        return;
      }
      importBar.max = Math.max(job.bytes_total, 1);
      importBar.value = job.bytes_done;
      say(job.state + ': ' + job.records_done + ' records stored, ' + job.records_failed +
          ' refused' + (job.records_total !== null ? ', of ' + job.records_total : '') +
          (job.failure ? '. ' + job.failure : '.'));
      showErrors(job.errors);
      if (job.state === 'running') window.setTimeout(function () { poll(url); }, 500);
    };
    xhr.onerror = function () { say('The node did not answer: reload the page to see the import.'); };
    xhr.send();
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var file = fileInput.files[0];
    if (!file) { say('Choose a file first.'); return; }
    if (file.size > maxBytes) { say('The file is larger than the limit.'); return; }
    var ndjson = /\.ndjson$/i.test(file.name) || file.type === 'application/x-ndjson';
    var xhr = new XMLHttpRequest();
    xhr.open('POST', form.dataset.action);
    xhr.setRequestHeader('Content-Type', ndjson ? 'application/x-ndjson' : 'application/fhir+json');
    xhr.setRequestHeader('X-CSRF-Token', form.dataset.csrf);
    xhr.setRequestHeader('X-File-Name', encodeURIComponent(file.name));
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) { uploadBar.max = e.total; uploadBar.value = e.loaded; }
    };
    xhr.onload = function () {
      var answer;
      try { answer = JSON.parse(xhr.responseText); } catch (err) { answer = null; }
      if (xhr.status !== 202 || !answer) {
        say('Refused: ' + (answer && answer.error ? answer.error : 'HTTP ' + xhr.status));
        return;
      }
      uploadBar.value = uploadBar.max;
      say('Uploaded; importing…');
      poll(answer.url);
    };
    xhr.onerror = function () { say('The upload failed: the node did not answer.'); };
    say('Uploading…');
    xhr.send(file);
  });
})();
