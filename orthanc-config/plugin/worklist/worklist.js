// orthanc-t3 triage worklist: reads /t3/worklist (study metadata written by the sidecar), already in worklist order
// (emergency → urgent → not yet triaged → routine → nothing to analyse, each oldest arrival first), shows each group
// under its own heading, filters it in the page and refreshes it without reloading. A banner says when the AI is not
// working (aiStatus). Every request is relative, so it goes through Orthanc's own authentication and any prefix a
// reverse proxy adds.
(function () {
  'use strict';
  var REFRESH_EVERY_MS = 15000;
  var state = { studies: [], canRerun: false, aiStatus: null };
  var GROUPS = {
    emergency: 'Emergency',
    urgent: 'Urgent',
    waiting: 'Not yet triaged: no priority yet, may hold an emergency',
    routine: 'Routine',
    skipped: 'Nothing for the AI to analyse',
  };

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

  function duration(seconds) {
    if (seconds < 120) return seconds + ' s';
    if (seconds < 7200) return Math.floor(seconds / 60) + ' min';
    var m = Math.floor(seconds % 3600 / 60);
    return Math.floor(seconds / 3600) + ' h ' + (m < 10 ? '0' : '') + m + ' min';
  }

  function matches(study) {
    var p = document.getElementById('filter-priority').value;
    var s = document.getElementById('filter-status').value;
    if (p && study.group !== p) return false;
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

  function priorityCell(study) {
    var badges = [];
    var below = null;
    if (study.priority) {
      badges.push(el('span', { className: 'badge priority priority-' + study.priority, text: study.priority }));
      if (study.reportFailed) {
        // The priority stands; the missing report is said beside it, with why.
        badges.push(el('span', { className: 'badge report-failed', title: study.reportError || '', text: 'report failed' }));
        below = el('div', { className: 'report-error', text: study.reportError || '' });
      }
    } else if (study.group === 'skipped') {
      badges.push(el('span', { className: 'badge priority priority-skipped', text: 'nothing to analyse' }));
    } else {
      var late = state.aiStatus && study.waitingSeconds != null && study.waitingSeconds > state.aiStatus.maxWaitSeconds;
      badges.push(el('span', { className: 'badge priority priority-waiting', text: 'not yet triaged' }));
      below = el('div', {
        className: 'waited' + (late ? ' late' : ''),
        text: study.waitingSeconds == null ? 'arrival unknown' : 'waiting ' + duration(study.waitingSeconds),
      });
    }
    if (study.demonstration) {
      badges.push(el('span', { className: 'badge demo', title: 'demonstration model: not a medical device', text: 'demo model' }));
    }
    var cell = el('td', { className: 'priority-cell' });
    badges.forEach(function (b, i) {
      if (i > 0) cell.appendChild(document.createTextNode(' '));
      cell.appendChild(b);
    });
    if (below) cell.appendChild(below);
    return cell;
  }

  function row(study) {
    var priority = study.priority || 'none';
    var findings = el('ul', { className: 'findings' }, study.findings.map(function (f) { return el('li', { text: f }); }));
    var review = study.review
      ? el('span', { className: 'badge review', title: study.reviewReason || '', text: 'review: ' + (study.reviewReason || 'models disagree') })
      : el('span', { className: 'muted', text: study.status === 'done' ? 'no' : '' });
    var status = el('td', { className: 'status status-' + study.status }, [el('span', { text: study.status })]);
    if (study.error && study.status !== 'done' && !(study.reportFailed && study.error === study.reportError)) {
      status.appendChild(el('div', { className: 'muted', text: study.error }));
    }
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
    return el('tr', {
      'data-study-id': study.id, 'data-priority': priority, 'data-status': study.status, 'data-group': study.group,
      'data-report-failed': String(!!study.reportFailed),
    }, [
      priorityCell(study),
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
    var group = null;
    shown.forEach(function (s) {
      if (s.group !== group) {
        group = s.group;
        var count = shown.filter(function (o) { return o.group === group; }).length;
        body.appendChild(el('tr', { className: 'group group-' + group, 'data-group-header': group }, [
          el('th', { colspan: '9' }, [
            document.createTextNode(GROUPS[group] || group),
            el('span', { className: 'muted', text: ' (' + count + ')' }),
          ]),
        ]));
      }
      body.appendChild(row(s));
    });
    if (shown.length === 0) body.appendChild(el('tr', {}, [el('td', { colspan: '9', className: 'muted', text: 'No study matches.' })]));
    document.getElementById('demo-banner').hidden = !state.studies.some(function (s) { return s.demonstration; });
    renderBanner();
  }

  // Whatever the filters, the banner says when the AI is not working (aiStatus comes with every /t3/worklist).
  function renderBanner() {
    var ai = state.aiStatus;
    var banner = document.getElementById('ai-banner');
    var list = document.getElementById('ai-problems');
    list.textContent = '';
    (ai && !ai.ok ? ai.problems : []).forEach(function (p) {
      list.appendChild(el('li', { 'data-kind': p.kind, text: p.message }));
    });
    banner.hidden = !(ai && !ai.ok);
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
