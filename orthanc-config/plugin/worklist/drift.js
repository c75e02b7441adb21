// orthanc-t3 drift monitor in the worklist's status area: per source of images (station, manufacturer and model,
// institution), each finished study's mean JS divergence between the generalist and the expert, as a small inline
// SVG chart, with the sidecar's warning when a source's recent studies moved away from its own history (the rule is
// the sidecar's, AdminService.GetDrift; docs/ADMIN.md "Drift monitor"). Reads /t3/drift; no external library, no
// inline script (the page's Content-Security-Policy allows none). A sidecar that is down leaves the section hidden:
// the AI banner already says so.
(function () {
  'use strict';
  var REFRESH_EVERY_MS = 60000;
  var SVG = 'http://www.w3.org/2000/svg';
  var WIDTH = 240;
  var HEIGHT = 44;

  function svg(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    return node;
  }

  function text(tag, className, value) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    node.textContent = value;
    return node;
  }

  // The chart of one source: its studies left to right, divergence 0 at the bottom; the baseline mean as a line.
  function chart(source) {
    var points = source.points || [];
    var values = points.map(function (p) { return Number(p.mean_js) || 0; });
    var top = Math.max(0.05, Math.max.apply(null, values.concat([Number(source.baseline_mean) || 0])) * 1.15);
    var x = function (i) { return values.length < 2 ? WIDTH / 2 : 2 + (i * (WIDTH - 4)) / (values.length - 1); };
    var y = function (v) { return HEIGHT - 2 - (v / top) * (HEIGHT - 4); };
    var root = svg('svg', { width: WIDTH, height: HEIGHT, viewBox: '0 0 ' + WIDTH + ' ' + HEIGHT, role: 'img', class: 'drift-chart' });
    var title = svg('title', {});
    title.textContent = source.label + ': mean divergence of its last ' + values.length + ' studies';
    root.appendChild(title);
    root.appendChild(svg('rect', { x: 0, y: 0, width: WIDTH, height: HEIGHT, class: 'drift-frame' }));
    if (source.judged) {
      var b = y(Number(source.baseline_mean) || 0);
      root.appendChild(svg('line', { x1: 0, x2: WIDTH, y1: b, y2: b, class: 'drift-baseline' }));
    }
    root.appendChild(svg('polyline', {
      points: values.map(function (v, i) { return x(i).toFixed(1) + ',' + y(v).toFixed(1); }).join(' '),
      class: source.warning ? 'drift-line drift-line-warning' : 'drift-line',
    }));
    values.forEach(function (v, i) { root.appendChild(svg('circle', { cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 1.5, class: 'drift-point' })); });
    return root;
  }

  function render(data) {
    var box = document.getElementById('drift');
    var list = document.getElementById('drift-sources');
    list.textContent = '';
    var sources = data.sources || [];
    sources.forEach(function (source) {
      var item = document.createElement('li');
      item.className = source.warning ? 'drift-source drift-warning' : 'drift-source';
      item.setAttribute('data-source', source.label);
      item.setAttribute('data-warning', String(!!source.warning));
      item.appendChild(text('span', 'drift-label', source.label));
      item.appendChild(chart(source));
      var judged = source.judged
        ? 'recent ' + Number(source.recent_mean).toFixed(3) + ' vs ' + Number(source.baseline_mean).toFixed(3) + ' (z ' + Number(source.z).toFixed(1) + ')'
        : source.studies + ' studies: not yet judged (needs ' + (data.min_baseline_studies + data.recent_studies) + ')';
      item.appendChild(text('span', 'drift-numbers', judged));
      if (source.warning) item.appendChild(text('strong', 'drift-reason', 'Possible drift: ' + source.reason));
      list.appendChild(item);
    });
    var warnings = sources.filter(function (s) { return s.warning; }).length;
    document.getElementById('drift-summary').textContent = 'Drift monitor: ' + sources.length + ' source' + (sources.length === 1 ? '' : 's')
      + (warnings ? ', ' + warnings + ' with a warning' : ', no warning');
    box.hidden = false;
    if (warnings) box.open = true;
    box.setAttribute('data-warnings', String(warnings));
    document.body.setAttribute('data-drift-loaded', String(Date.now()));
  }

  function load() {
    fetch('../drift', { credentials: 'same-origin', cache: 'no-store' })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (data) { if (data) render(data); })
      .catch(function () { /* the sidecar is down: the AI banner says so */ });
  }

  load();
  setInterval(load, REFRESH_EVERY_MS);
})();
