// orthanc-t3: triage state and a re-run button on the study page of the legacy Orthanc Explorer (/app/explorer.html).
// State is the study metadata the sidecar writes (T3Status, T3Priority, T3Lambda, T3Sr, T3Error; numeric indexes
// 4701… when the names are not declared).
(function () {
  var NAMES = { T3Status: '4701', T3Priority: '4702', T3Lambda: '4703', T3Sr: '4704', T3Error: '4705' };
  function value(meta, name) {
    if (meta[name] !== undefined) return meta[name];
    return meta[NAMES[name]];
  }
  function render(box, studyId) {
    $.ajax({ url: '../studies/' + studyId + '/metadata?expand', dataType: 'json', cache: false }).done(function (meta) {
      var status = value(meta, 'T3Status') || 'not analysed';
      var lines = ['<b>AI triage:</b> ' + $('<span>').text(status).html()];
      var priority = value(meta, 'T3Priority');
      if (priority) lines.push('priority <b>' + $('<span>').text(priority).html() + '</b>');
      var lambda = value(meta, 'T3Lambda');
      if (lambda) lines.push('λ<sub>B</sub> ' + $('<span>').text(lambda).html());
      var sr = value(meta, 'T3Sr');
      if (sr) lines.push('<a href="#instance?uuid=' + encodeURIComponent(sr) + '">SR</a>');
      var error = value(meta, 'T3Error');
      if (error) lines.push('<i>' + $('<span>').text(error).html() + '</i>');
      box.find('.t3-state').html(lines.join(' · '));
    });
  }
  $('#study').live('pagebeforeshow', function () {
    if (!$.mobile.pageData || !$.mobile.pageData.uuid) return;
    var studyId = $.mobile.pageData.uuid;
    $('#t3-triage').remove();
    var box = $('<div id="t3-triage" style="margin:0.5em 0;padding:0.5em;border:1px solid #ccc;border-radius:4px">' +
      '<div class="t3-state">AI triage: …</div></div>');
    var button = $('<a href="#" data-role="button" data-icon="refresh" data-mini="true">Re-run AI triage</a>');
    button.click(function (e) {
      e.preventDefault();
      box.find('.t3-state').text('AI triage: queued…');
      $.ajax({ url: '../t3/studies/' + studyId + '/analyze', type: 'POST', data: '{}', dataType: 'json' })
        .done(function () { setTimeout(function () { render(box, studyId); }, 2000); })
        .fail(function (xhr) {
          var text = xhr.responseText || ('HTTP ' + xhr.status);
          box.find('.t3-state').text('AI triage: re-run refused: ' + text);
        });
    });
    box.append(button);
    box.insertBefore($('#study-delete').parent().parent());
    button.button();
    render(box, studyId);
  });
})();
