(function () {
  'use strict';
  var d = document;
  d.documentElement.className = 'js';
  var dataEl = d.getElementById('findings-data');
  var data = JSON.parse(dataEl.textContent);
  var catZh = JSON.parse(d.getElementById('category-zh').textContent);
  var C = {};
  data.columns.forEach(function (c, i) { C[c] = i; });
  var rows = data.rows;
  var PAGE_SIZES = [50, 200, 1000];
  var ACTION_ZH = { dispute: '争议', review: '待复核', none: '无需处理' };
  var st = { q: '', period: '', category: '', action: '', page: 1, size: Number(dataEl.getAttribute('data-page-size')) || 200, sort: '', desc: false };
  var hay = null;
  var view = [];
  var open = {};
  var body = d.getElementById('ft-body');
  var qEl = d.getElementById('q');
  var sel = { period: d.getElementById('f-period'), category: d.getElementById('f-category'), action: d.getElementById('f-action') };
  var statusEl = d.getElementById('status');

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  // Exact comparison of decimal strings ("-12.50", "3", ""): no floating point.
  function cmpAbs(a, b) {
    var pa = a.split('.'), pb = b.split('.');
    var ia = pa[0].replace(/^0+(?=\d)/, ''), ib = pb[0].replace(/^0+(?=\d)/, '');
    if (ia.length !== ib.length) return ia.length < ib.length ? -1 : 1;
    if (ia !== ib) return ia < ib ? -1 : 1;
    var fa = pa[1] || '', fb = pb[1] || '', n = Math.max(fa.length, fb.length);
    fa = fa + '0'.repeat(n - fa.length); fb = fb + '0'.repeat(n - fb.length);
    return fa < fb ? -1 : fa > fb ? 1 : 0;
  }
  function cmpDec(a, b) {
    if (a === b) return 0;
    if (a === '') return -1;
    if (b === '') return 1;
    var na = a.charAt(0) === '-', nb = b.charAt(0) === '-';
    if (na !== nb) return na ? -1 : 1;
    var r = cmpAbs(na ? a.slice(1) : a, nb ? b.slice(1) : b);
    return na ? -r : r;
  }
  function cmpStr(a, b) { return a < b ? -1 : a > b ? 1 : 0; }

  function readHash() {
    var h = location.hash.replace(/^#/, '');
    var src = h.indexOf('=') >= 0 ? h : location.search.replace(/^\?/, '');
    if (src.indexOf('=') < 0) return false;
    var p = new URLSearchParams(src);
    st.q = p.get('q') || '';
    st.period = p.get('period') || '';
    st.category = p.get('category') || '';
    st.action = p.get('action') || '';
    st.page = Math.max(1, parseInt(p.get('page') || '1', 10) || 1);
    var size = parseInt(p.get('size') || '', 10);
    if (PAGE_SIZES.indexOf(size) >= 0) st.size = size;
    st.sort = p.get('sort') || '';
    st.desc = p.get('desc') === '1';
    if (st.sort && !(st.sort in C)) st.sort = '';
    return true;
  }
  function writeHash() {
    var p = new URLSearchParams();
    if (st.q) p.set('q', st.q);
    ['period', 'category', 'action'].forEach(function (k) { if (st[k]) p.set(k, st[k]); });
    if (st.sort) { p.set('sort', st.sort); if (st.desc) p.set('desc', '1'); }
    if (st.size !== 200) p.set('size', String(st.size));
    if (st.page > 1) p.set('page', String(st.page));
    var h = p.toString();
    try { history.replaceState(null, '', h ? '#' + h : location.pathname + location.search); } catch (e) { /* file: URLs in some browsers */ }
  }
  function syncControls() {
    qEl.value = st.q;
    ['period', 'category', 'action'].forEach(function (k) {
      var s = sel[k];
      if (st[k] && !Array.prototype.some.call(s.options, function (o) { return o.value === st[k]; })) st[k] = '';
      s.value = st[k];
    });
    Array.prototype.forEach.call(d.querySelectorAll('#ft th.sortable'), function (th) {
      var c = th.getAttribute('data-col');
      if (c === st.sort) th.setAttribute('aria-sort', st.desc ? 'descending' : 'ascending'); else th.removeAttribute('aria-sort');
    });
  }

  function filter() {
    var terms = st.q.toLowerCase().split(/\s+/).filter(Boolean);
    if (terms.length && !hay) {
      hay = rows.map(function (r) {
        return [r[C.finding_id], r[C.trade_id], r[C.customer_id], r[C.customer_name], r[C.service_type_code], r[C.explanation]].join('\u0001').toLowerCase();
      });
    }
    var ip = C.period, ic = C.category, ia = C.action;
    view = [];
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      if (st.period && r[ip] !== st.period) continue;
      if (st.category && r[ic] !== st.category) continue;
      if (st.action && r[ia] !== st.action) continue;
      if (terms.length) {
        var h = hay[i], ok = true;
        for (var t = 0; t < terms.length; t++) { if (h.indexOf(terms[t]) < 0) { ok = false; break; } }
        if (!ok) continue;
      }
      view.push(i);
    }
    if (st.sort) {
      var col = C[st.sort];
      var th = d.querySelector('#ft th[data-col="' + st.sort + '"]');
      var cmp = th && th.getAttribute('data-type') === 'dec' ? cmpDec : cmpStr;
      var sign = st.desc ? -1 : 1;
      view.sort(function (a, b) { return sign * cmp(rows[a][col], rows[b][col]) || a - b; });
    }
  }

  function explanation(s) {
    var k = s.indexOf(' | ');
    if (k < 0) return esc(s);
    return esc(s.slice(0, k)) + '<span class="en">' + esc(s.slice(k + 3)) + '</span>';
  }
  function money(v, signed) {
    var cls = !signed ? '' : v.charAt(0) === '-' ? ' neg' : (v && v !== '0.00' ? ' pos' : '');
    return '<td class="num' + cls + '">' + esc(v) + '</td>';
  }
  function rowHtml(r) {
    var id = r[C.finding_id], act = r[C.action], cat = r[C.category];
    var h = '<tr data-id="' + esc(id) + '" class="main act-' + esc(act) + '">' +
      '<td class="id"><span class="tog">' + (open[id] ? '▾ ' : '▸ ') + '</span>' + esc(id) + '</td>' +
      '<td class="per">' + esc(r[C.period]) + '</td>' +
      '<td>' + esc(catZh[cat] || '') + '<div class="small">' + esc(cat) + '</div></td>' +
      '<td><span class="badge ' + esc(act) + '">' + esc(ACTION_ZH[act] || '') + ' ' + esc(act) + '</span></td>' +
      '<td class="cust">' + esc(r[C.customer_name]) + '<div class="small">' + esc(r[C.customer_id]) + '</div></td>' +
      '<td class="mono">' + esc(r[C.trade_id]) + '</td>' +
      '<td class="svc">' + esc(r[C.service_type_code]) + '<div class="small">' + esc(r[C.charging_mode]) + '</div></td>' +
      money(r[C.expected_incentive], false) + money(r[C.actual_incentive], false) + money(r[C.delta], true) +
      '</tr><tr class="ex" data-of="' + esc(id) + '"><td colspan="10">' + explanation(r[C.explanation]) + '</td></tr>';
    if (open[id]) {
      var f = [
        ['expected_period', '应结期次 Expected period'], ['expected_base', '应得基数 Expected base'], ['expected_incentive', '应得激励 Expected incentive'],
        ['actual_base', '实得基数 Actual base'], ['actual_incentive', '实得激励 Actual incentive'], ['delta', '差额 Delta'],
        ['charging_mode', '计费模式 Charging mode'], ['rule_ids', '规则 Rules'], ['consumption_rows', '消费来源行 Consumption rows'], ['incentive_rows', '激励或账单来源行 Incentive or bill rows']
      ];
      h += '<tr class="detail" data-detail="' + esc(id) + '"><td colspan="10"><dl>' + f.map(function (x) {
        return '<dt>' + esc(x[1]) + '</dt><dd>' + (esc(r[C[x[0]]]) || '—') + '</dd>';
      }).join('') + '</dl></td></tr>';
    }
    return h;
  }
  function pagerHtml(pages) {
    var opts = PAGE_SIZES.map(function (n) { return '<option value="' + n + '"' + (n === st.size ? ' selected' : '') + '>' + n + '</option>'; }).join('');
    return '<button type="button" data-go="first"' + (st.page <= 1 ? ' disabled' : '') + ' title="首页 First">«</button>' +
      '<button type="button" data-go="prev"' + (st.page <= 1 ? ' disabled' : '') + ' title="上一页 Previous">‹ 上一页 Prev</button>' +
      '<span>第 ' + st.page + ' / ' + pages + ' 页 Page</span>' +
      '<button type="button" data-go="next"' + (st.page >= pages ? ' disabled' : '') + ' title="下一页 Next">下一页 Next ›</button>' +
      '<button type="button" data-go="last"' + (st.page >= pages ? ' disabled' : '') + ' title="末页 Last">»</button>' +
      '<label>每页 Per page <select data-size="1">' + opts + '</select></label>';
  }
  function render() {
    var pages = Math.max(1, Math.ceil(view.length / st.size));
    if (st.page > pages) st.page = pages;
    var start = (st.page - 1) * st.size, end = Math.min(view.length, start + st.size);
    var parts = [];
    for (var i = start; i < end; i++) parts.push(rowHtml(rows[view[i]]));
    if (!parts.length) parts.push('<tr class="empty"><td colspan="10">没有符合条件的差异。 No finding matches.</td></tr>');
    body.innerHTML = parts.join('');
    statusEl.textContent = view.length
      ? '显示第 ' + (start + 1) + '–' + end + ' 条，共 ' + view.length + ' 条（全部 ' + rows.length + ' 条） · Showing ' + (start + 1) + '–' + end + ' of ' + view.length + ' (' + rows.length + ' in total)'
      : '共 0 条（全部 ' + rows.length + ' 条） · 0 of ' + rows.length;
    var ph = pagerHtml(pages);
    d.getElementById('pager-top').innerHTML = ph;
    d.getElementById('pager-bottom').innerHTML = ph;
    syncControls();
    writeHash();
  }
  function update(resetPage) {
    if (resetPage) st.page = 1;
    filter();
    render();
  }

  var timer = 0;
  qEl.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(function () { st.q = qEl.value; update(true); }, rows.length > 20000 ? 250 : 80);
  });
  ['period', 'category', 'action'].forEach(function (k) {
    sel[k].addEventListener('change', function () { st[k] = sel[k].value; update(true); });
  });
  d.getElementById('reset').addEventListener('click', function () {
    st.q = ''; st.period = ''; st.category = ''; st.action = ''; st.sort = ''; st.desc = false; open = {};
    update(true);
  });
  function onPager(e) {
    var b = e.target.closest('button[data-go]');
    if (!b || b.disabled) return;
    var pages = Math.max(1, Math.ceil(view.length / st.size));
    var go = b.getAttribute('data-go');
    st.page = go === 'first' ? 1 : go === 'prev' ? st.page - 1 : go === 'next' ? st.page + 1 : pages;
    render();
    if (e.currentTarget.id === 'pager-bottom') d.getElementById('findings').scrollIntoView();
  }
  function onSize(e) {
    if (!e.target.hasAttribute('data-size')) return;
    var first = (st.page - 1) * st.size;
    st.size = Number(e.target.value) || 200;
    st.page = Math.floor(first / st.size) + 1;
    render();
  }
  ['pager-top', 'pager-bottom'].forEach(function (id) {
    var el = d.getElementById(id);
    el.addEventListener('click', onPager);
    el.addEventListener('change', onSize);
  });
  function sortBy(th) {
    var c = th.getAttribute('data-col');
    if (st.sort === c) { if (st.desc) { st.sort = ''; st.desc = false; } else st.desc = true; } else { st.sort = c; st.desc = false; }
    update(true);
  }
  Array.prototype.forEach.call(d.querySelectorAll('#ft th.sortable'), function (th) {
    th.addEventListener('click', function () { sortBy(th); });
    th.addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sortBy(th); } });
  });
  body.addEventListener('click', function (e) {
    var tr = e.target.closest('tr[data-id], tr[data-of]');
    if (!tr || (window.getSelection && String(window.getSelection()).length)) return;
    var id = tr.getAttribute('data-id') || tr.getAttribute('data-of');
    if (open[id]) delete open[id]; else open[id] = true;
    render();
  });
  window.addEventListener('hashchange', function () {
    if (readHash()) { update(false); d.getElementById('findings').scrollIntoView(); }
  });

  readHash();
  update(false);
})();
