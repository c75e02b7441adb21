// orthanc-t3 in the legacy Orthanc Explorer (/app/explorer.html, Orthanc 1.10.1):
// - the study page: priority, review flag, top finding, "demo model", a link to the readable report and a re-run
//   button;
// - every study list (a patient's studies, lookup results): a badge with priority, review flag and top finding;
//   the priority shows as soon as the study is classified, whatever its status, with "report failed" beside it when
//   the SR could not be written (the reason in its tooltip);
// - a link to the triage worklist (/t3/app/) on the pages that list patients and studies.
// State is the study metadata the sidecar writes (src/orthanc/triage-metadata.ts), by name or by numeric index.
(function () {
  var NAMES = {
    T3Status: '4701', T3Priority: '4702', T3Lambda: '4703', T3Sr: '4704', T3Error: '4705',
    T3Review: '4710', T3TopFinding: '4711', T3Findings: '4712', T3Demo: '4713', T3Finished: '4714',
    T3ReportError: '4715', T3PriorityReason: '4716', T3Ack: '4717', T3Feedback: '4718'
  };
  var PRIORITIES = ['emergency', 'urgent', 'routine'];
  var COLOURS = { emergency: '#b00020', urgent: '#f5a623', routine: '#5b7fa6' };
  function value(meta, name) {
    if (meta[name] !== undefined) return meta[name];
    return meta[NAMES[name]];
  }
  // For element text and for quoted attribute values alike (the badge's reason goes into title="…"). Bidi and control
  // characters become U+FFFD first (as t3_display.py does): a U+202E in a value would show the text reversed.
  function esc(text) {
    return String(text == null ? '' : text)
      .replace(/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u0000-\u001f\u007f-\u009f]/g, '\ufffd')
      .replace(/[&<>"']/g, function (c) {
        return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
      });
  }
  function priorityOf(meta) {
    var priority = value(meta, 'T3Priority');
    return PRIORITIES.indexOf(priority) >= 0 ? priority : null;
  }
  // Why the study's SR is missing although it has a priority; null when nothing failed.
  function reportError(meta) {
    if (!priorityOf(meta)) return null;
    var status = value(meta, 'T3Status');
    var reason = value(meta, 'T3ReportError');
    if (!reason && (status === 'failed' || status === 'parked')) reason = value(meta, 'T3Error') || 'the AI result could not be stored';
    return reason || null;
  }
  function badge(text, colour, cls, title) {
    return '<span class="t3-badge ' + cls + '" title="' + esc(title || '') + '" style="display:inline-block;margin-left:.4em;' +
      'padding:0 .4em;border-radius:3px;font-size:85%;font-weight:bold;color:#fff;background:' + colour + '">' + esc(text) + '</span>';
  }
  // The badges of one study, from its metadata; '' when it was never triaged.
  function badges(meta) {
    var status = value(meta, 'T3Status');
    var priority = priorityOf(meta);
    if (!status && !priority) return '';
    var out = [];
    // Priority before paperwork: it shows whatever the status (a failed SR, a re-run queued).
    // The reason (the sidecar's words, T3PriorityReason) in the badge's tooltip.
    if (priority) out.push(badge(priority, COLOURS[priority], 't3-priority', 'AI triage priority' + (value(meta, 'T3PriorityReason') ? ': ' + value(meta, 'T3PriorityReason') : '')));
    else out.push(badge('AI ' + status, '#777', 't3-status', value(meta, 'T3Error') || ''));
    var failed = reportError(meta);
    if (failed) out.push(badge('report failed', '#6b0015', 't3-report-failed', 'AI report failed: ' + failed));
    var review = value(meta, 'T3Review');
    if (review && review.indexOf('yes') === 0) out.push(badge('review', '#b00020', 't3-review', review.replace(/^yes: /, 'human review: ')));
    var top = value(meta, 'T3TopFinding');
    if (top && priority) out.push(badge(top, '#444', 't3-top-finding', 'most probable finding'));
    if (value(meta, 'T3Demo') === 'true') out.push(badge('demo model', '#a06a00', 't3-demo', 'demonstration model trained on synthetic images: not a medical device'));
    return out.join('');
  }
  function metadata(studyId) {
    return $.ajax({ url: '../studies/' + studyId + '/metadata?expand', dataType: 'json', cache: false });
  }

  // ---- the study page: one line per fact (priority and why, review and why, findings, when, reading), then the links
  function record(meta, name) {
    try { var r = JSON.parse(value(meta, name) || 'null'); return r && typeof r === 'object' ? r : null; } catch (e) { return null; }
  }
  function localTime(iso) {
    var d = iso ? new Date(iso) : null;
    if (!d || isNaN(d.getTime())) return esc(iso || '');
    var zone = '';
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) { /* zone unknown */ }
    return esc(d.toLocaleString() + (zone ? ' (' + zone + ')' : ''));
  }
  function line(label, html, cls) {
    return '<tr' + (cls ? ' class="' + cls + '"' : '') + '><th style="text-align:left;vertical-align:top;padding:.15em .8em .15em 0;' +
      'white-space:nowrap;font-weight:normal;color:#555">' + esc(label) + '</th><td style="padding:.15em 0">' + html + '</td></tr>';
  }
  function render(box, studyId) {
    metadata(studyId).done(function (meta) {
      var status = value(meta, 'T3Status') || 'not analysed';
      var rows = [line('Priority', badges(meta) + ' <span class="t3-status-text" style="color:#555">(' + esc(status) + ')</span>')];
      var why = value(meta, 'T3PriorityReason');
      if (why && priorityOf(meta)) rows.push(line('Why', '<span class="t3-priority-reason">' + esc(why) + '</span>'));
      var review = value(meta, 'T3Review');
      if (review && review.indexOf('yes') === 0) {
        rows.push(line('Human review', '<span class="t3-review-reason" style="color:#b00020;font-weight:bold">' + esc(review.replace(/^yes: ?/, '')) + '</span>'));
      }
      var findings = value(meta, 'T3Findings');
      if (findings) rows.push(line('Findings', '<span class="t3-findings">' + esc(findings) + '</span>'));
      var finished = value(meta, 'T3Finished');
      if (finished) rows.push(line('Triaged', '<span class="t3-finished">' + localTime(finished) + '</span>'));
      var ack = record(meta, 'T3Ack');
      if (ack) rows.push(line('Reading', '<span class="t3-ack">' + esc(ack.state) + ' by ' + esc(ack.user || '?') + ', ' + localTime(ack.at) + '</span>'));
      var fb = record(meta, 'T3Feedback');
      if (fb) {
        rows.push(line('Feedback', '<span class="t3-feedback">' + esc(fb.verdict === 'agree' ? 'AI right' : 'AI wrong') +
          (fb.finding ? ' (right finding: ' + esc(fb.finding) + ')' : '') + ' by ' + esc(fb.user || '?') + ', ' + localTime(fb.at) + '</span>'));
      }
      var failed = reportError(meta);
      if (failed) rows.push(line('Report', '<span class="t3-report-error" style="color:#b00020;font-weight:bold">report failed: ' + esc(failed) + '</span>'));
      var error = value(meta, 'T3Error');
      if (error && error !== failed) rows.push(line('Note', '<i>' + esc(error) + '</i>'));
      var links = [];
      if (value(meta, 'T3Sr')) links.push('<a class="t3-report-link" href="../t3/studies/' + encodeURIComponent(studyId) + '/report" target="_blank">AI report</a>');
      links.push('<a href="../t3/app/">triage worklist</a>');
      rows.push(line('Open', links.join(' · ')));
      box.find('.t3-state').html('<div style="font-weight:bold;margin-bottom:.2em">AI triage</div><table style="border-collapse:collapse">' + rows.join('') + '</table>');
    });
  }
  $('#study').live('pagebeforeshow', function () {
    if (!$.mobile.pageData || !$.mobile.pageData.uuid) return;
    var studyId = $.mobile.pageData.uuid;
    $('#t3-triage').remove();
    var box = $('<div id="t3-triage" style="margin:0 0 1em;padding:.6em .8em;border:1px solid #bbb;border-radius:4px;background:#fff;' +
      'font-size:14px;line-height:1.35;text-shadow:none"><div class="t3-state">AI triage: …</div></div>');
    var button = $('<a href="#" data-role="button" data-icon="refresh" data-mini="true">Re-run AI triage</a>');
    button.click(function (e) {
      e.preventDefault();
      box.find('.t3-state').text('AI triage: queued…');
      // A JSON body: the plugin refuses a state-changing request without one (or X-Requested-With), as a
      // cross-site form would send it.
      $.ajax({ url: '../t3/studies/' + encodeURIComponent(studyId) + '/analyze', type: 'POST', data: '{}', contentType: 'application/json', dataType: 'json' })
        .done(function () { setTimeout(function () { render(box, studyId); }, 2000); })
        .fail(function (xhr) {
          var text = xhr.responseText || ('HTTP ' + xhr.status);
          box.find('.t3-state').text('AI triage: re-run refused: ' + text);
        });
    });
    // Re-run sits at the foot of the AI box, in the study page's right column above the series: far from "Delete
    // this study" (left column), so one cannot be clicked for the other.
    box.append($('<div class="t3-rerun" style="margin-top:.6em;max-width:16em"></div>').append(button));
    var series = $('#list-series');
    if (series.length) box.insertBefore(series.closest('form').length ? series.closest('form') : (series.prev('form').length ? series.prev('form') : series));
    else box.insertBefore($('#study-delete').parent().parent());
    button.button();
    render(box, studyId);
  });

  // ---- study lists: any link to a study page gets its badges once it appears (the lists are filled by ajax)
  function decorate(root) {
    $(root).find('a[href^="#study?uuid="]').add($(root).filter('a[href^="#study?uuid="]')).each(function () {
      var link = $(this);
      if (link.attr('data-t3') || link.closest('#study').length) return;
      link.attr('data-t3', 'pending');
      var studyId = link.attr('href').replace('#study?uuid=', '');
      metadata(studyId).done(function (meta) {
        var html = badges(meta);
        link.attr('data-t3', html ? 'triaged' : 'none');
        if (html) {
          // jQuery Mobile puts the title in an <h3>; the badge goes next to it.
          var target = link.find('h3').first();
          (target.length ? target : link).append(html);
        }
      });
    });
  }
  // This script is loaded from the page's <head>: watch the body once it exists.
  $(function () {
    if (window.MutationObserver) {
      new MutationObserver(function (mutations) {
        mutations.forEach(function (m) {
          for (var i = 0; i < m.addedNodes.length; i++) if (m.addedNodes[i].nodeType === 1) decorate(m.addedNodes[i]);
        });
      }).observe(document.body, { childList: true, subtree: true });
    }
    decorate(document.body);
  });
  $(document).bind('pageshow', function () { decorate(document.body); });

  // ---- a way to the worklist from the start pages
  $('#lookup, #find-patients').live('pagebeforeshow', function () {
    var page = $(this);
    if (page.find('.t3-worklist-link').length) return;
    var content = page.find('[data-role="content"]').first();
    content.prepend('<p class="t3-worklist-link" style="margin:0 0 .5em"><a href="../t3/app/" data-ajax="false" ' +
      'style="font-weight:bold">AI triage worklist</a> (urgent studies first)</p>');
  });
})();
