// orthanc-t3 triage worklist: reads /t3/worklist (study metadata written by the sidecar), already in worklist order
// (emergency → urgent → not yet triaged → routine → nothing to analyse, each oldest arrival first), shows it one
// compact line per study under group headings, searches, sorts and pages it in the page, and refreshes it without
// reloading. A banner says when the AI is not working (aiStatus); another, the title and the tab's icon say when a new
// emergency arrived while the page is open (and a desktop notification, when the reader asked for one). Readers mark
// studies seen / acknowledged / dismissed and say whether the AI was right (t3_workflow.py keeps both in Orthanc).
// Every request is relative, so it goes through Orthanc's own authentication and any prefix a reverse proxy adds;
// no inline script anywhere (the pages' Content-Security-Policy allows none).
(function () {
  'use strict';
  var REFRESH_EVERY_MS = 15000;
  // Findings below this probability (in percent) are not listed: they are noise for a reader. The study's most
  // probable finding is always shown; the full list stays in the cell's tooltip.
  var FINDING_FLOOR_PERCENT = 10;
  var TITLE = 'AI triage worklist · Orthanc';
  var GROUPS = {
    emergency: 'Emergency',
    urgent: 'Urgent',
    waiting: 'Not yet triaged: no priority yet, may hold an emergency',
    routine: 'Routine',
    skipped: 'Nothing for the AI to analyse',
  };
  var GROUP_RANK = { emergency: 0, urgent: 1, waiting: 2, routine: 3, skipped: 4 };
  var STATE_LABELS = { '': 'to read', seen: 'seen', acknowledged: 'acknowledged', dismissed: 'dismissed' };
  var COLUMNS = 11;

  var state = { studies: [], canRerun: false, aiStatus: null, viewerUrl: null };
  var ui = { sort: 'priority', dir: 1, page: 0, pageSize: Number(stored('pageSize')) || 50 };
  // Emergencies seen by this page (null until the first load: what is there when the page opens is not "new").
  var knownEmergencies = null;
  var newEmergencies = [];

  function stored(key) {
    try { return window.localStorage.getItem('t3-worklist-' + key); } catch (e) { return null; }
  }
  function store(key, value) {
    try { window.localStorage.setItem('t3-worklist-' + key, value); } catch (e) { /* private mode: not kept */ }
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (attrs[k] == null) return;
      if (k === 'text') node.textContent = attrs[k];
      else if (k === 'className') node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) {
      if (c == null) return;
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return node;
  }

  function pad(n) { return (n < 10 ? '0' : '') + n; }
  var ZONE = (function () {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) { return ''; }
  })();
  // Local time, with the zone in the tooltip: "14:02" today, "2026-12-05 14:02" otherwise.
  function shortTime(iso) {
    if (!iso) return '';
    var d = new Date(iso);
    if (isNaN(d.getTime())) return iso;
    var today = new Date();
    var hm = pad(d.getHours()) + ':' + pad(d.getMinutes());
    if (d.toDateString() === today.toDateString()) return hm;
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + hm;
  }
  // The status column's form, as narrow as "14:02" on every day: "14:02" today, "12-05" (month-day) before; the
  // whole time is in the cell's tooltip. A full date there overflowed the column at 1024 px.
  function compactTime(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return iso;
    if (d.toDateString() === new Date().toDateString()) return pad(d.getHours()) + ':' + pad(d.getMinutes());
    return pad(d.getMonth() + 1) + '-' + pad(d.getDate());
  }
  function longTime(iso) {
    if (!iso) return '';
    var d = new Date(iso);
    return isNaN(d.getTime()) ? iso : d.toLocaleString() + (ZONE ? ' (' + ZONE + ')' : '');
  }

  function duration(seconds) {
    if (seconds < 120) return seconds + ' s';
    if (seconds < 7200) return Math.floor(seconds / 60) + ' min';
    if (seconds < 172800) {
      var m = Math.floor(seconds % 3600 / 60);
      return Math.floor(seconds / 3600) + ' h ' + (m < 10 ? '0' : '') + m + ' min';
    }
    return Math.floor(seconds / 86400) + ' d';
  }

  function closed(study) {
    var a = study.acknowledgement;
    return !!(a && (a.state === 'acknowledged' || a.state === 'dismissed'));
  }

  function percentOf(finding) {
    var m = /(\d+(?:\.\d+)?)\s*%$/.exec(finding);
    return m ? Number(m[1]) : null;
  }

  function searchText(study) {
    return [study.patientName, study.patientNameDisplay, study.patientId, study.accessionNumber, study.description]
      .join(' ').toLowerCase();
  }

  function matches(study) {
    var p = document.getElementById('filter-priority').value;
    var s = document.getElementById('filter-status').value;
    var q = document.getElementById('search').value.trim().toLowerCase();
    if (p && study.group !== p) return false;
    if (s && study.status !== s) return false;
    if (!document.getElementById('show-closed').checked && closed(study)) return false;
    if (q && searchText(study).indexOf(q) < 0) return false;
    return true;
  }

  var SORT_KEYS = {
    // The server's order: group, then oldest arrival first.
    priority: function (s, i) { return [GROUP_RANK[s.group], i]; },
    arrived: function (s) { return [s.arrival || '~']; },
    patient: function (s) { return [(s.patientNameDisplay || '').toLowerCase(), s.patientId || '']; },
    accession: function (s) { return [s.accessionNumber || '']; },
    study: function (s) { return [s.studyDateDisplay || '', (s.description || '').toLowerCase()]; },
    modality: function (s) { return [(s.modalities || []).join('/'), (s.bodyParts || []).join('/')]; },
    review: function (s) { return [s.review ? 0 : 1, GROUP_RANK[s.group]]; },
    status: function (s) { return [s.status || '']; },
  };

  function compare(a, b) {
    for (var i = 0; i < a.length; i++) {
      if (a[i] < b[i]) return -1;
      if (a[i] > b[i]) return 1;
    }
    return 0;
  }

  function sorted(list) {
    var key = SORT_KEYS[ui.sort] || SORT_KEYS.priority;
    var keyed = list.map(function (s, i) { return { s: s, k: key(s, i), i: i }; });
    keyed.sort(function (a, b) { return ui.dir * compare(a.k, b.k) || a.i - b.i; });
    return keyed.map(function (x) { return x.s; });
  }

  function post(url, body) {
    // A JSON body with its Content-Type: what the plugin's cross-site checks ask of a request that changes something.
    return fetch(url, {
      method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    }).then(function (res) {
      return res.text().then(function (t) {
        if (!res.ok) throw new Error('HTTP ' + res.status + ' ' + t);
        return t ? JSON.parse(t) : null;
      });
    });
  }

  function rerun(study, button) {
    button.disabled = true;
    button.textContent = 'queued…';
    post('../worklist/rerun/' + encodeURIComponent(study.id), {})
      .then(function () { setTimeout(load, 1500); })
      .catch(function (err) {
        show('Re-run refused: ' + err.message);
        button.disabled = false;
        button.textContent = 'Re-run';
      });
  }

  function setWorkflow(study, value) {
    return post('../worklist/studies/' + encodeURIComponent(study.id) + '/workflow', { state: value || null })
      .then(function (answer) { study.acknowledgement = answer && answer.acknowledgement; render(); })
      .catch(function (err) { show('Could not record the reading state: ' + err.message); render(); });
  }

  function setFeedback(study, verdict) {
    var body = { verdict: verdict };
    if (study.feedback && study.feedback.verdict === verdict) body = { verdict: null };   // a second click takes it back
    else if (verdict === 'disagree') {
      var finding = window.prompt('The AI was wrong. What is the right finding? (optional)', '');
      if (finding === null) return Promise.resolve();
      body.finding = finding;
    }
    return post('../worklist/studies/' + encodeURIComponent(study.id) + '/feedback', body)
      .then(function (answer) { study.feedback = answer && answer.feedback; render(); })
      .catch(function (err) { show('Could not record the feedback: ' + err.message); });
  }

  function viewerHref(study) {
    var template = state.viewerUrl;
    // Only a relative address or http(s): a configured "javascript:" must not become a link.
    if (!template || /^\s*[a-z][a-z0-9+.-]*:/i.test(template) && !/^\s*https?:/i.test(template)) {
      return '../../app/explorer.html#study?uuid=' + encodeURIComponent(study.id);
    }
    return template.replace(/\{id\}/g, encodeURIComponent(study.id))
      .replace(/\{StudyInstanceUID\}/g, encodeURIComponent(study.studyInstanceUid || ''));
  }

  function priorityCell(study) {
    var cell = el('td', { className: 'priority-cell' });
    var below = null;
    if (study.priority) {
      cell.appendChild(el('span', { className: 'badge priority priority-' + study.priority, text: study.priority,
        title: study.priorityReason || null }));
      if (study.reportFailed) {
        // The priority stands; the missing report is said beside it, with why.
        cell.appendChild(document.createTextNode(' '));
        cell.appendChild(el('span', { className: 'badge report-failed', title: study.reportError || '', text: 'report failed' }));
        below = el('div', { className: 'report-error', text: study.reportError || '' });
      }
    } else if (study.group === 'skipped') {
      cell.appendChild(el('span', { className: 'badge priority priority-skipped', text: 'nothing to analyse' }));
    } else {
      cell.appendChild(el('span', { className: 'badge priority priority-waiting', text: 'not yet triaged' }));
    }
    if (study.demonstration) {
      cell.appendChild(document.createTextNode(' '));
      cell.appendChild(el('span', { className: 'badge demo', title: 'demonstration model: not a medical device', text: 'demo' }));
    }
    if (below) cell.appendChild(below);
    return cell;
  }

  function arrivedCell(study) {
    if (study.group === 'waiting') {
      var late = state.aiStatus && study.waitingSeconds != null && study.waitingSeconds > state.aiStatus.maxWaitSeconds;
      return el('td', { className: 'when' }, [el('span', {
        className: 'waited' + (late ? ' late' : ''),
        text: study.waitingSeconds == null ? 'arrival unknown' : 'waiting ' + duration(study.waitingSeconds),
      })]);
    }
    return el('td', { className: 'when', title: study.arrival ? 'arrived ' + study.arrival.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)$/, '$1-$2-$3 $4:$5:$6 UTC') : null },
      [el('span', { className: 'arrived', text: study.arrivedSeconds == null ? '' : duration(study.arrivedSeconds) })]);
  }

  function patientCell(study) {
    var who = [study.patientAge, study.patientSex].filter(Boolean).join(' ');
    var name = study.patientNameDisplay || study.patientName || '(no name)';
    return el('td', { className: 'patient', title: [name, study.patientId, who].filter(Boolean).join(' · ') }, [
      el('span', { className: 'name', text: name }), ' ',
      el('span', { className: 'muted pid', text: study.patientId || '' }),
      who ? el('span', { className: 'muted age-sex', text: ' · ' + who }) : null,
    ]);
  }

  function aiCell(study) {
    var findings = study.findings || [];
    var shown = findings.filter(function (f, i) { var p = percentOf(f); return i === 0 || p == null || p >= FINDING_FLOOR_PERCENT; });
    var title = [study.priorityReason, findings.join('; ')].filter(Boolean).join(' — ');
    return el('td', { className: 'ai', title: title || null }, [
      study.review ? el('span', { className: 'badge review review-inline', text: 'review',
        title: 'Human review: ' + (study.reviewReason || 'the two models disagree') }) : null,
      study.review ? el('span', { className: 'review-inline', text: ' ' }) : null,
      study.priorityReason ? el('span', { className: 'priority-reason', text: study.priorityReason }) : null,
      study.priorityReason && shown.length ? ' ' : null,
      shown.length ? el('ul', { className: 'findings' }, shown.map(function (f) { return el('li', { text: f }); })) : null,
    ]);
  }

  function reviewCell(study) {
    if (!study.review) return el('td', { className: 'review-cell' }, [el('span', { className: 'muted', text: study.status === 'done' ? 'no' : '' })]);
    var reason = study.reviewReason || 'the two models disagree';
    return el('td', { className: 'review-cell', title: 'Human review: ' + reason }, [
      el('span', { className: 'badge review', text: 'review' }), ' ', el('span', { className: 'review-reason', text: reason }),
    ]);
  }

  function statusCell(study) {
    var error = study.error && study.status !== 'done' && !(study.reportFailed && study.error === study.reportError) ? study.error : null;
    return el('td', { className: 'status status-' + study.status, title: [study.status, error, study.finishedAt ? 'finished ' + longTime(study.finishedAt) : null].filter(Boolean).join(' · ') }, [
      el('span', { text: study.status }),
      error ? el('span', { className: 'status-error', text: ' !' }) : null,
      study.finishedAt ? ' ' : null,
      study.finishedAt ? el('span', { className: 'finished muted', text: compactTime(study.finishedAt) }) : null,
    ]);
  }

  function readingCell(study) {
    var ack = study.acknowledgement;
    var select = el('select', { className: 'workflow-state', 'aria-label': 'Reading state',
      title: ack ? ack.state + ' by ' + (ack.user || 'an unknown user') + ', ' + longTime(ack.at) : 'not marked yet' });
    Object.keys(STATE_LABELS).forEach(function (v) {
      var option = el('option', { value: v, text: STATE_LABELS[v] });
      if ((ack ? ack.state : '') === v) option.selected = true;
      select.appendChild(option);
    });
    select.addEventListener('change', function () { setWorkflow(study, select.value); });
    var fb = study.feedback;
    function verdictButton(verdict, label, hint) {
      var chosen = fb && fb.verdict === verdict;
      var button = el('button', { type: 'button', className: 'verdict verdict-' + verdict + (chosen ? ' chosen' : ''),
        'aria-pressed': String(!!chosen), text: label,
        title: chosen ? hint + ': ' + verdict + 'd by ' + (fb.user || 'an unknown user') + ', ' + longTime(fb.at)
          + (fb.finding ? ' (right finding: ' + fb.finding + ')' : '') : hint });
      button.addEventListener('click', function () { setFeedback(study, verdict); });
      return button;
    }
    var who = ack ? (ack.user || '?') + ' ' + shortTime(ack.at) : '';
    return el('td', { className: 'reading' }, [
      select, ' ',
      verdictButton('agree', '✓', 'The AI was right'),
      verdictButton('disagree', '✗', 'The AI was wrong'),
      who ? el('span', { className: 'muted workflow-who', text: ' ' + who, title: select.getAttribute('title') }) : null,
    ]);
  }

  function linksCell(study) {
    var links = el('td', { className: 'links' }, [
      el('a', { className: 'study-link', href: viewerHref(study), text: 'Open' }),
      study.srInstanceId ? ' · ' : null,
      study.srInstanceId ? el('a', { className: 'report-link', href: '../studies/' + encodeURIComponent(study.id) + '/report', text: 'Report' }) : null,
    ]);
    if (state.canRerun) {
      var button = el('button', { type: 'button', className: 'rerun', text: 'Re-run' });
      button.addEventListener('click', function () { rerun(study, button); });
      links.appendChild(document.createTextNode(' '));
      links.appendChild(button);
    }
    return links;
  }

  function modalityText(study) {
    return [(study.modalities || []).join('/'), (study.bodyParts || []).join('/')].filter(Boolean).join(' · ');
  }

  function row(study) {
    var ack = study.acknowledgement;
    return el('tr', {
      'data-study-id': study.id, 'data-priority': study.priority || 'none', 'data-status': study.status, 'data-group': study.group,
      'data-report-failed': String(!!study.reportFailed), 'data-workflow': ack ? ack.state : 'open',
      'data-feedback': study.feedback ? study.feedback.verdict : 'none',
      className: (ack ? 'state-' + ack.state : '') + (study.reportFailed ? ' has-report-error' : ''),
    }, [
      priorityCell(study),
      arrivedCell(study),
      patientCell(study),
      el('td', { className: 'accession', text: study.accessionNumber || '', title: study.accessionNumber || null }),
      el('td', { className: 'study', title: [study.description, study.studyDateDisplay].filter(Boolean).join(' · ') || null }, [
        el('span', { text: study.description || '(no description)' }), ' ',
        el('span', { className: 'muted study-date', text: study.studyDateDisplay || '' }),
        el('span', { className: 'muted modality-inline', text: ' · ' + modalityText(study) }),
      ]),
      el('td', { className: 'modality', text: modalityText(study) }),
      aiCell(study),
      reviewCell(study),
      statusCell(study),
      readingCell(study),
      linksCell(study),
    ]);
  }

  function renderCounts(shown) {
    var by = {};
    state.studies.forEach(function (s) { if (!closed(s)) by[s.group] = (by[s.group] || 0) + 1; });
    var hidden = document.getElementById('show-closed').checked ? 0 : state.studies.filter(closed).length;
    var parts = [state.studies.length + (state.studies.length === 1 ? ' study' : ' studies')];
    ['emergency', 'urgent', 'waiting', 'routine'].forEach(function (g) {
      if (by[g]) parts.push(by[g] + ' ' + (g === 'waiting' ? 'not yet triaged' : g));
    });
    if (hidden) parts.push(hidden + ' acknowledged or dismissed (hidden)');
    if (shown !== state.studies.length - hidden) parts.push(shown + ' match');
    document.getElementById('counts').textContent = parts.join(' · ');
  }

  function render() {
    var body = document.querySelector('#worklist tbody');
    var shown = sorted(state.studies.filter(matches));
    var pages = Math.max(1, Math.ceil(shown.length / ui.pageSize));
    if (ui.page >= pages) ui.page = pages - 1;
    var first = ui.page * ui.pageSize;
    var page = shown.slice(first, first + ui.pageSize);
    body.textContent = '';
    var grouped = ui.sort === 'priority';
    var group = null;
    page.forEach(function (s) {
      if (grouped && s.group !== group) {
        group = s.group;
        var count = shown.filter(function (o) { return o.group === group; }).length;
        body.appendChild(el('tr', { className: 'group group-' + group, 'data-group-header': group }, [
          el('th', { colspan: String(COLUMNS) }, [GROUPS[group] || group, el('span', { className: 'muted', text: ' (' + count + ')' })]),
        ]));
      }
      body.appendChild(row(s));
    });
    if (shown.length === 0) body.appendChild(el('tr', {}, [el('td', { colspan: String(COLUMNS), className: 'muted', text: 'No study matches.' })]));
    document.getElementById('page-info').textContent = shown.length
      ? (first + 1) + '–' + (first + page.length) + ' of ' + shown.length + ' (page ' + (ui.page + 1) + ' of ' + pages + ')' : '';
    document.getElementById('page-prev').disabled = ui.page === 0;
    document.getElementById('page-next').disabled = ui.page >= pages - 1;
    document.getElementById('pager').hidden = pages <= 1 && ui.pageSize <= 50;
    Array.prototype.forEach.call(document.querySelectorAll('#worklist th[data-sort]'), function (th) {
      var on = th.getAttribute('data-sort') === ui.sort;
      th.setAttribute('aria-sort', on ? (ui.dir > 0 ? 'ascending' : 'descending') : 'none');
      th.classList.toggle('sorted', on);
    });
    document.getElementById('demo-banner').hidden = !state.studies.some(function (s) { return s.demonstration; });
    renderCounts(shown.length);
    renderBanner();
    renderAlert();
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

  // ---- new emergencies: an alert in the page, the count in the title and the tab's icon, and (opt-in) a desktop
  // notification. No sound: a reading room decides its own sounds. The notification carries no patient data (it may
  // show on a locked screen).
  function openEmergencies() {
    return state.studies.filter(function (s) { return s.group === 'emergency' && !closed(s); });
  }

  function noticeNewEmergencies() {
    var open = openEmergencies();
    if (knownEmergencies === null) {
      knownEmergencies = {};
      open.forEach(function (s) { knownEmergencies[s.id] = true; });
      return;
    }
    var fresh = open.filter(function (s) { return !knownEmergencies[s.id]; });
    fresh.forEach(function (s) { knownEmergencies[s.id] = true; newEmergencies.push(s.id); });
    if (fresh.length && document.getElementById('notify').checked && window.Notification && Notification.permission === 'granted') {
      try {
        new Notification('New AI emergency on the worklist', {
          body: fresh.length === 1 ? (fresh[0].priorityReason || 'emergency') : fresh.length + ' new emergencies', tag: 't3-emergency',
        });
      } catch (e) { /* some browsers allow notifications only from a service worker: the page alert stays */ }
    }
  }

  function renderAlert() {
    var open = openEmergencies();
    var openIds = {};
    open.forEach(function (s) { openIds[s.id] = s; });
    newEmergencies = newEmergencies.filter(function (id) { return openIds[id]; });
    var box = document.getElementById('new-emergency');
    box.hidden = newEmergencies.length === 0;
    if (newEmergencies.length) {
      var s = openIds[newEmergencies[newEmergencies.length - 1]];
      document.getElementById('new-emergency-text').textContent = newEmergencies.length === 1
        ? 'New emergency: ' + (s.priorityReason || s.topFinding || 'emergency') + ' · ' + (s.patientNameDisplay || s.patientId || '')
        : newEmergencies.length + ' new emergencies since you looked';
    }
    document.title = (newEmergencies.length ? '(' + newEmergencies.length + ' new) ' : '')
      + (open.length ? open.length + ' emergency · ' : '') + TITLE;
    setIcon(open.length, newEmergencies.length > 0);
  }

  var lastIcon = null;
  function setIcon(count, fresh) {
    var key = count + ':' + fresh;
    if (key === lastIcon) return;
    lastIcon = key;
    var svg = count
      ? '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="16" cy="16" r="15" fill="#b00020"'
        + (fresh ? ' stroke="#000" stroke-width="2"' : '') + '/><text x="16" y="22" font-size="' + (count > 9 ? 14 : 18)
        + '" font-family="sans-serif" font-weight="bold" text-anchor="middle" fill="#fff">' + (count > 99 ? '99' : count) + '</text></svg>'
      : '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect x="4" y="4" width="24" height="24" rx="4" fill="#5b7fa6"/></svg>';
    document.getElementById('favicon').setAttribute('href', 'data:image/svg+xml,' + encodeURIComponent(svg));
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
        noticeNewEmergencies();
        render();
        document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
        document.body.setAttribute('data-loaded', String(Date.now()));
      })
      .catch(function (err) { show('Could not load the worklist: ' + err.message); });
  }

  function rerender() { ui.page = 0; render(); }

  document.getElementById('filters').addEventListener('submit', function (e) { e.preventDefault(); });
  document.getElementById('refresh').addEventListener('click', load);
  document.getElementById('filter-priority').addEventListener('change', rerender);
  document.getElementById('filter-status').addEventListener('change', rerender);
  document.getElementById('search').addEventListener('input', rerender);
  var showClosed = document.getElementById('show-closed');
  showClosed.checked = stored('showClosed') === 'true';
  showClosed.addEventListener('change', function () { store('showClosed', String(showClosed.checked)); rerender(); });
  var notify = document.getElementById('notify');
  notify.checked = stored('notify') === 'true' && !!window.Notification && Notification.permission === 'granted';
  notify.addEventListener('change', function () {
    store('notify', String(notify.checked));
    if (notify.checked && window.Notification && Notification.permission !== 'granted') {
      Notification.requestPermission().then(function (permission) {
        if (permission !== 'granted') {
          notify.checked = false;
          store('notify', 'false');
          show('The browser does not allow notifications for this page: the alert above the list still shows new emergencies.');
        }
      });
    }
  });
  var pageSize = document.getElementById('page-size');
  pageSize.value = String(ui.pageSize);
  pageSize.addEventListener('change', function () { ui.pageSize = Number(pageSize.value) || 50; store('pageSize', String(ui.pageSize)); rerender(); });
  document.getElementById('page-prev').addEventListener('click', function () { ui.page = Math.max(0, ui.page - 1); render(); });
  document.getElementById('page-next').addEventListener('click', function () { ui.page += 1; render(); });
  Array.prototype.forEach.call(document.querySelectorAll('#worklist th[data-sort]'), function (th) {
    th.tabIndex = 0;
    function sortBy() {
      var key = th.getAttribute('data-sort');
      if (ui.sort === key) ui.dir = -ui.dir; else { ui.sort = key; ui.dir = 1; }
      rerender();
    }
    th.addEventListener('click', sortBy);
    th.addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sortBy(); } });
  });
  document.getElementById('new-emergency-show').addEventListener('click', function () {
    document.getElementById('filter-priority').value = 'emergency';
    newEmergencies = [];
    rerender();
  });
  document.getElementById('new-emergency-close').addEventListener('click', function () { newEmergencies = []; render(); });
  load();
  setInterval(load, REFRESH_EVERY_MS);
})();
