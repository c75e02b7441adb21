// orthanc-t3 triage worklist: reads /t3/worklist (study metadata written by the sidecar), already in worklist order
// (emergency → urgent → routine → not triaged, then oldest arrival first), filters it in the page and refreshes it
// without reloading. Every request is relative, so it goes through Orthanc's own authentication and any prefix a
// reverse proxy adds.
(function () {
  'use strict';
  var REFRESH_EVERY_MS = 15000;
  var state = { studies: [], canRerun: false };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') node.textContent = attrs[k];
      else if (k === 'className') node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function when(iso) {
    if (!iso) return '';
    var d = new Date(iso);
    return isNaN(d.getTime()) ? iso : d.toLocaleString();
  }

  function matches(study) {
    var p = document.getElementById('filter-priority').value;
    var s = document.getElementById('filter-status').value;
    if (p && (p === 'none' ? study.priority : study.priority !== p)) return false;
    if (s && study.status !== s) return false;
    return true;
  }

  function rerun(study, button) {
    button.disabled = true;
    button.textContent = 're-running…';
    fetch('../worklist/rerun/' + encodeURIComponent(study.id), { method: 'POST', body: '{}', credentials: 'same-origin' })
      .then(function (res) { return res.text().then(function (t) { return { ok: res.ok, text: t }; }); })
      .then(function (r) {
        if (!r.ok) throw new Error(r.text);
        setTimeout(load, 1500);
      })
      .catch(function (err) {
        show('Re-run refused: ' + err.message);
        button.disabled = false;
        button.textContent = 'Re-run';
      });
  }

  function row(study) {
    var priority = study.priority || 'none';
    var findings = el('ul', { className: 'findings' }, study.findings.map(function (f) { return el('li', { text: f }); }));
    var review = study.review
      ? el('span', { className: 'badge review', title: study.reviewReason || '', text: 'review: ' + (study.reviewReason || 'models disagree') })
      : el('span', { className: 'muted', text: study.status === 'done' ? 'no' : '' });
    var status = el('td', { className: 'status status-' + study.status }, [el('span', { text: study.status })]);
    if (study.error && study.status !== 'done') status.appendChild(el('div', { className: 'muted', text: study.error }));
    var links = el('td', { className: 'links' }, [
      el('a', { className: 'study-link', href: '../../app/explorer.html#study?uuid=' + encodeURIComponent(study.id), text: 'Study' }),
      study.srInstanceId ? document.createTextNode(' · ') : null,
      study.srInstanceId ? el('a', { className: 'report-link', href: '../studies/' + encodeURIComponent(study.id) + '/report', text: 'Report' }) : null,
    ]);
    if (state.canRerun) {
      var button = el('button', { type: 'button', className: 'rerun', text: 'Re-run' });
      button.addEventListener('click', function () { rerun(study, button); });
      links.appendChild(document.createTextNode(' '));
      links.appendChild(button);
    }
    var priorityCell = el('td', {}, [el('span', { className: 'badge priority priority-' + priority, text: study.priority || 'not triaged' })]);
    if (study.demonstration) {
      priorityCell.appendChild(document.createTextNode(' '));
      priorityCell.appendChild(el('span', { className: 'badge demo', title: 'demonstration model: not a medical device', text: 'demo model' }));
    }
    return el('tr', { 'data-study-id': study.id, 'data-priority': priority, 'data-status': study.status }, [
      priorityCell,
      el('td', {}, [el('div', { text: study.patientName || '(no name)' }), el('div', { className: 'muted', text: study.patientId })]),
      el('td', {}, [el('div', { text: study.description || '(no description)' }), el('div', { className: 'muted', text: study.studyDate })]),
      el('td', { text: study.modalities.join(', ') }),
      el('td', {}, [findings]),
      el('td', {}, [review]),
      status,
      el('td', { className: 'finished', text: when(study.finishedAt) }),
      links,
    ]);
  }

  function render() {
    var body = document.querySelector('#worklist tbody');
    var shown = state.studies.filter(matches);
    body.textContent = '';
    shown.forEach(function (s) { body.appendChild(row(s)); });
    if (shown.length === 0) body.appendChild(el('tr', {}, [el('td', { colspan: '9', className: 'muted', text: 'No study matches.' })]));
    document.getElementById('demo-banner').hidden = !state.studies.some(function (s) { return s.demonstration; });
  }

  function show(message) {
    document.getElementById('message').textContent = message;
  }

  function load() {
    return fetch('../worklist', { credentials: 'same-origin', cache: 'no-store' })
      .then(function (res) {
        if (!res.ok) return res.text().then(function (t) { throw new Error('HTTP ' + res.status + ' ' + t); });
        return res.json();
      })
      .then(function (data) {
        state = data;
        show('');
        render();
        document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
        document.body.setAttribute('data-loaded', String(Date.now()));
      })
      .catch(function (err) { show('Could not load the worklist: ' + err.message); });
  }

  document.getElementById('refresh').addEventListener('click', load);
  document.getElementById('filter-priority').addEventListener('change', render);
  document.getElementById('filter-status').addEventListener('change', render);
  load();
  setInterval(load, REFRESH_EVERY_MS);
})();
