// The dashboard's one stylesheet, served by the mesh itself (`/dashboard/assets/dashboard.css`):
// no build step, no CDN, no web font — the system's own UI fonts. Colours carry the delivery
// states (delivered green, retrying amber, dead red, pending grey, in flight blue), always next
// to the state's name, never instead of it.

export const DASHBOARD_CSS = `
:root{
  --font:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans","Liberation Sans",sans-serif;
  --mono:ui-monospace,SFMono-Regular,"SF Mono",Menlo,Consolas,"Liberation Mono","DejaVu Sans Mono",monospace;
  --bg:#f5f6f8;--panel:#fff;--text:#1b2130;--muted:#5b6475;--faint:#8a93a3;--line:#e2e5ea;--line-soft:#eef0f3;
  --accent:#3b5bdb;--accent-ink:#fff;--accent-soft:#edf1ff;--head:#151a26;--head-text:#e8ebf2;--head-muted:#9aa3b5;
  --ok:#1f7a3d;--ok-bg:#e3f5e8;--ok-dot:#2fa85a;
  --warn:#8a5300;--warn-bg:#fff3d6;--warn-dot:#e59e0b;
  --bad:#a61b1b;--bad-bg:#fde7e7;--bad-dot:#e03131;
  --idle:#4a5261;--idle-bg:#eceef2;--idle-dot:#9099a8;
  --busy:#1c4fc4;--busy-bg:#e3ecff;--busy-dot:#3b82f6;
  --radius:10px;--shadow:0 1px 2px rgba(16,24,40,.06),0 1px 3px rgba(16,24,40,.08);
  color-scheme:light dark;
}
@media (prefers-color-scheme:dark){:root{
  --bg:#0f131a;--panel:#171c25;--text:#e4e8ef;--muted:#a3acbb;--faint:#7c8596;--line:#2a313d;--line-soft:#222833;
  --accent:#7c95ff;--accent-ink:#0f131a;--accent-soft:#1d2540;--head:#0a0d12;--head-text:#e8ebf2;--head-muted:#8c95a7;
  --ok:#6fdc92;--ok-bg:#143322;--ok-dot:#3ecf6e;--warn:#ffc866;--warn-bg:#3a2a0b;--warn-dot:#f5a524;
  --bad:#ff8a8a;--bad-bg:#3d1517;--bad-dot:#f25555;--idle:#c2c8d3;--idle-bg:#262c37;--idle-dot:#8e97a7;
  --busy:#8fb3ff;--busy-bg:#172746;--busy-dot:#5b9bff;--shadow:none;
}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:15px/1.5 var(--font);color:var(--text);background:var(--bg)}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
code,.mono{font-family:var(--mono);font-size:.86em}
h1{font-size:1.45rem;line-height:1.25;margin:0 0 .2rem;letter-spacing:-.01em}
h2{font-size:1.05rem;margin:0 0 .6rem}
h3{font-size:.95rem;margin:0}
p{margin:.3rem 0}
.visually-hidden{position:absolute!important;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.skip{position:absolute;left:-999px;top:.5rem;background:var(--panel);padding:.4rem .8rem;border-radius:6px;z-index:2}
.skip:focus{left:.5rem}

/* the bar */
.bar{background:var(--head);color:var(--head-text)}
.bar-inner{max-width:84rem;margin:0 auto;padding:.55rem 1.25rem;display:flex;align-items:center;gap:1.25rem;flex-wrap:wrap}
.brand{display:flex;align-items:center;gap:.5rem;color:var(--head-text);font-weight:650;font-size:1.05rem;letter-spacing:-.01em}
.brand:hover{text-decoration:none}
.brand img{width:22px;height:22px}
.nav{flex:1;min-width:0}
.nav ul{list-style:none;margin:0;padding:0;display:flex;gap:.2rem;overflow-x:auto;scrollbar-width:none}
.nav a{display:block;color:var(--head-muted);padding:.35rem .7rem;border-radius:7px;white-space:nowrap;font-size:.93rem}
.nav a:hover{color:var(--head-text);background:rgba(255,255,255,.07);text-decoration:none}
.nav a[aria-current=page]{color:var(--head-text);background:rgba(255,255,255,.13)}
.bar form{margin:0}
.bar .btn-quiet{color:var(--head-muted);border-color:rgba(255,255,255,.18);background:transparent}
.bar .btn-quiet:hover{color:var(--head-text);border-color:rgba(255,255,255,.35)}

/* page */
main{max-width:84rem;margin:0 auto;padding:1.5rem 1.25rem 3rem}
.page-head{display:flex;align-items:flex-end;justify-content:space-between;gap:1rem;flex-wrap:wrap;margin-bottom:1.2rem}
.lead{color:var(--muted);margin:0}
.lead-line{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem}
.panel{background:var(--panel);border:1px solid var(--line);border-radius:var(--radius);box-shadow:var(--shadow);padding:1rem 1.1rem;margin-bottom:1.25rem}
.panel-head{display:flex;align-items:baseline;justify-content:space-between;gap:1rem;flex-wrap:wrap;margin-bottom:.6rem}
.panel-head h2{margin:0}
.muted{color:var(--muted)}.faint{color:var(--faint)}
.stack{display:grid;gap:1.25rem}

/* numbers */
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(10.5rem,1fr));gap:.75rem;margin:0 0 1.25rem;padding:0;list-style:none}
.card{display:block;background:var(--panel);border:1px solid var(--line);border-radius:var(--radius);box-shadow:var(--shadow);padding:.8rem 1rem .85rem;color:var(--text);position:relative;overflow:hidden}
a.card:hover{text-decoration:none;border-color:var(--accent)}
.card::before{content:"";position:absolute;inset:0 auto 0 0;width:4px;background:var(--idle-dot)}
.card .label{display:flex;align-items:center;gap:.4rem;color:var(--muted);font-size:.85rem;font-weight:550}
.card .value{display:block;font-size:1.75rem;font-weight:650;letter-spacing:-.02em;font-variant-numeric:tabular-nums;line-height:1.2;margin-top:.15rem}
.card .note{display:block;color:var(--faint);font-size:.8rem;margin-top:.1rem}
.card.s-delivered::before{background:var(--ok-dot)}.card.s-retrying::before{background:var(--warn-dot)}
.card.s-dead::before{background:var(--bad-dot)}.card.s-in_flight::before{background:var(--busy-dot)}
.card.s-dead.nonzero .value{color:var(--bad)}.card.s-retrying.nonzero .value{color:var(--warn)}
.card.info::before{background:var(--accent)}

/* state badges */
.badge{display:inline-flex;align-items:center;gap:.38rem;padding:.1rem .55rem .1rem .45rem;border-radius:999px;font-size:.8rem;font-weight:600;white-space:nowrap;background:var(--idle-bg);color:var(--idle);line-height:1.5}
.badge::before{content:"";width:.5rem;height:.5rem;border-radius:50%;background:var(--idle-dot);flex:none}
.s-delivered.badge,.badge.s-active{background:var(--ok-bg);color:var(--ok)}.s-delivered.badge::before,.badge.s-active::before{background:var(--ok-dot)}
.s-retrying.badge,.badge.s-paused{background:var(--warn-bg);color:var(--warn)}.s-retrying.badge::before,.badge.s-paused::before{background:var(--warn-dot)}
.s-dead.badge,.badge.s-failing{background:var(--bad-bg);color:var(--bad)}.s-dead.badge::before,.badge.s-failing::before{background:var(--bad-dot)}
.s-in_flight.badge{background:var(--busy-bg);color:var(--busy)}.s-in_flight.badge::before{background:var(--busy-dot)}
.dot{width:.55rem;height:.55rem;border-radius:50%;background:var(--idle-dot);display:inline-block;flex:none}
.dot.s-delivered{background:var(--ok-dot)}.dot.s-retrying{background:var(--warn-dot)}.dot.s-dead{background:var(--bad-dot)}.dot.s-in_flight{background:var(--busy-dot)}
.tally{display:flex;flex-wrap:wrap;gap:.3rem}
.http{font-family:var(--mono);font-size:.84rem;font-weight:600;padding:.05rem .4rem;border-radius:5px;background:var(--idle-bg);color:var(--idle)}
.http.ok{background:var(--ok-bg);color:var(--ok)}.http.bad{background:var(--bad-bg);color:var(--bad)}.http.warn{background:var(--warn-bg);color:var(--warn)}

/* tables */
.table-wrap{overflow-x:auto;border:1px solid var(--line);border-radius:var(--radius);background:var(--panel);box-shadow:var(--shadow)}
.panel .table-wrap{box-shadow:none}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
/* Columns keep a readable width: a narrow screen scrolls the box sideways instead of squeezing them. */
.table-wrap table{min-width:44rem}
caption{text-align:left;padding:.7rem .9rem .2rem;color:var(--muted);font-size:.85rem}
th,td{text-align:left;padding:.55rem .9rem;border-top:1px solid var(--line-soft);vertical-align:top}
thead th{border-top:0;background:var(--bg);color:var(--muted);font-size:.75rem;font-weight:650;text-transform:uppercase;letter-spacing:.04em;white-space:nowrap;padding-top:.5rem;padding-bottom:.5rem}
tbody tr:hover{background:color-mix(in srgb,var(--accent-soft) 45%,transparent)}
td.num,th.num{text-align:right}
td.actions{text-align:right;white-space:nowrap;width:1%}
.sub{display:block;color:var(--faint);font-size:.8rem;margin-top:.1rem;font-weight:400}
tbody th{font-weight:inherit}
.id{font-family:var(--mono);font-size:.82rem;overflow-wrap:anywhere}
.url{font-family:var(--mono);font-size:.82rem;overflow-wrap:anywhere;color:var(--muted)}
.nowrap{white-space:nowrap}
.excerpt{font-family:var(--mono);font-size:.8rem;white-space:pre-wrap;word-break:break-word;max-width:42rem;color:var(--muted);margin:0;max-height:7.5rem;overflow:auto}
.empty{padding:1.6rem 1rem;text-align:center;color:var(--muted)}

/* forms and buttons */
form{margin:0}
.inline{display:inline}
.filters{display:flex;flex-wrap:wrap;gap:.75rem;align-items:flex-end}
.field{display:flex;flex-direction:column;gap:.25rem;min-width:0}
.field label{font-size:.82rem;font-weight:600;color:var(--muted)}
.field .hint{font-size:.78rem;color:var(--faint)}
.grow{flex:1 1 14rem}
input,select{font:inherit;color:var(--text);background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:.42rem .6rem;min-height:2.3rem;width:100%}
input:focus,select:focus{border-color:var(--accent);outline:2px solid color-mix(in srgb,var(--accent) 30%,transparent);outline-offset:0}
input[type=number]{max-width:8rem}
.btn{font:inherit;font-size:.9rem;font-weight:600;display:inline-flex;align-items:center;justify-content:center;gap:.35rem;min-height:2.3rem;padding:.4rem .9rem;border-radius:8px;border:1px solid var(--accent);background:var(--accent);color:var(--accent-ink);cursor:pointer;white-space:nowrap}
.btn:hover{filter:brightness(1.08);text-decoration:none}
.btn-quiet{background:var(--panel);color:var(--text);border-color:var(--line)}
.btn-quiet:hover{border-color:var(--accent);color:var(--accent);filter:none}
.btn-small{min-height:1.9rem;padding:.2rem .65rem;font-size:.83rem}
.btn-danger{background:var(--panel);color:var(--bad);border-color:color-mix(in srgb,var(--bad-dot) 45%,var(--line))}
.btn-danger:hover{background:var(--bad-bg);filter:none}
.form-grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(13rem,1fr));gap:.8rem;align-items:start}
.form-grid .wide{grid-column:span 2}
.form-actions{display:flex;gap:.6rem;margin-top:.9rem;flex-wrap:wrap;align-items:center}

/* messages */
.notice{border-radius:var(--radius);padding:.7rem .95rem;margin:0 0 1.1rem;border:1px solid var(--line);background:var(--panel);display:flex;gap:.6rem;align-items:flex-start}
.notice.ok{border-color:color-mix(in srgb,var(--ok-dot) 40%,var(--line));background:var(--ok-bg);color:var(--ok)}
.notice.error{border-color:color-mix(in srgb,var(--bad-dot) 40%,var(--line));background:var(--bad-bg);color:var(--bad)}
.notice ul{margin:.3rem 0 0;padding-left:1.1rem}

/* key facts */
.facts{display:grid;grid-template-columns:repeat(auto-fit,minmax(12rem,1fr));gap:.6rem 1.5rem;margin:0}
.facts div{min-width:0}
.facts dt{font-size:.75rem;text-transform:uppercase;letter-spacing:.04em;color:var(--faint);font-weight:650}
.facts dd{margin:.1rem 0 0;word-break:break-word}
details{margin-top:.7rem}
summary{cursor:pointer;color:var(--muted);font-size:.88rem;font-weight:550}
pre.json{font-family:var(--mono);font-size:.82rem;background:var(--bg);border:1px solid var(--line-soft);border-radius:8px;padding:.7rem .85rem;overflow:auto;max-height:24rem;margin:.5rem 0 0}

/* one event */
.ie{border-top:1px solid var(--line);padding-top:1rem;margin-top:1rem}
.ie:first-of-type{border-top:0;padding-top:0;margin-top:0}
.ie-head{display:flex;gap:.6rem;align-items:baseline;flex-wrap:wrap;margin-bottom:.4rem}
.delivery{border:1px solid var(--line);border-radius:var(--radius);margin-top:.8rem;overflow:hidden;background:var(--panel)}
.delivery-head{display:flex;flex-wrap:wrap;gap:.4rem 1rem;align-items:center;padding:.65rem .9rem;background:var(--bg);border-bottom:1px solid var(--line-soft)}
.delivery-head .grow{min-width:12rem}
.delivery table{border:0}
.delivery thead th{background:transparent}

/* pages */
.spaced{margin-top:1.25rem}.spaced-below{margin-bottom:1rem}
.replay-all{display:flex;align-items:center;justify-content:space-between;gap:.6rem 1rem;flex-wrap:wrap;padding:.7rem 1rem}
.replay-all p{margin:0}
.attempts{overflow-x:auto}
.attempts table{table-layout:fixed;min-width:40rem}
.attempts .c-n{width:3.2rem}.attempts .c-at{width:13.5rem}.attempts .c-status{width:8.5rem}.attempts .c-dur{width:7rem}
.pager{display:flex;gap:.6rem;justify-content:space-between;align-items:center;margin-top:.9rem;flex-wrap:wrap}
.signin{max-width:25rem;margin:12vh auto 0;padding:0 1rem}
.signin .panel{padding:1.5rem}
.signin h1{display:flex;align-items:center;gap:.55rem;margin-bottom:.5rem}
.signin h1 img{width:28px;height:28px}
.signin .btn{width:100%;margin-top:1rem}

/* the catalog view, inside the layout */
.catalog h1{margin-bottom:.4rem}.catalog h2{margin-top:1.8rem}
.catalog article{background:var(--panel);border:1px solid var(--line);border-radius:var(--radius);padding:.9rem 1rem;margin:.8rem 0;box-shadow:var(--shadow)}
.catalog h3{font-family:var(--mono);margin-bottom:.4rem}
.catalog table{border:1px solid var(--line-soft)}
.catalog .required{color:var(--bad);font-weight:600}.catalog .none{color:var(--faint)}

@media (max-width:48rem){
  body{font-size:14.5px}
  .bar-inner{padding:.5rem .8rem;gap:.4rem .8rem}
  .nav{order:3;flex-basis:100%}
  .nav ul{flex-wrap:wrap;overflow:visible}
  .bar form{margin-left:auto}
  main{padding:1rem .75rem 2rem}
  th,td{padding:.5rem .6rem}
  .form-grid .wide{grid-column:auto}
  .card .value{font-size:1.45rem}
  .hide-narrow{display:none}
  /* An attempt per block: number, time, status and duration on a line, the response below it. */
  .attempts table{min-width:0;table-layout:auto}
  .attempts thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
  .attempts tr{display:grid;grid-template-columns:auto 1fr auto auto;gap:.25rem .6rem;align-items:center;padding:.55rem .7rem;border-top:1px solid var(--line-soft)}
  .attempts tr:first-child{border-top:0}
  .attempts td{display:block;padding:0;border:0;font-size:.9rem}
  .attempts td:last-child{grid-column:1 / -1}
  .attempts .excerpt{max-width:none}
}
`;

/** The mark beside the name: three linked nodes, the mesh. */
export const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="8" fill="#3b5bdb"/><path d="M10 11l12 0M10 11l6 11M22 11l-6 11" stroke="#fff" stroke-width="2.2" stroke-linecap="round" opacity=".75"/><circle cx="10" cy="11" r="3.4" fill="#fff"/><circle cx="22" cy="11" r="3.4" fill="#fff"/><circle cx="16" cy="22" r="3.4" fill="#fff"/></svg>`;
