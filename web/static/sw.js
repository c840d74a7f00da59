// Senim's service worker keeps the app shell (the page, its scripts,
// styles, catalogs and icons) so the app opens fast and installs as an app.
// It NEVER keeps act data or any answer of the server: a phone may be
// shared, and nothing of one person's acts may be left for the next. Only
// the paths listed in SHELL, without a query string, are ever put in the
// cache; everything else (/ws, /verify, /bank, /egov, /ops, /digidocs, …)
// goes to the network untouched.

const CACHE = 'senim-shell-v1';

const SHELL = [
  '/', '/index.html', '/style.css', '/manifest.webmanifest',
  '/icons/icon-192.png', '/icons/icon-512.png',
  '/i18n/ru.json', '/i18n/kk.json', '/i18n/en.json',
  '/js/act.js', '/js/app.js', '/js/attorney.js', '/js/call.js', '/js/client.js', '/js/egov.js', '/js/i18n.js', '/js/iin.js',
  '/js/notary.js', '/js/proto.js', '/js/signer.js', '/js/state.js', '/js/ui.js',
  '/vendor/ncalayer-js-client/ncalayer-client.js',
  '/vendor/node-forge/forge.min.js',
];

// shell says whether a request is for a file of the shell, and nothing more.
function shell(req) {
  if (req.method !== 'GET') return false;
  const u = new URL(req.url);
  return u.origin === self.location.origin && u.search === '' && SHELL.includes(u.pathname);
}

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

// A new version drops the caches of the old ones.
self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

// Network first, so a new release shows at once; the cached shell only
// when the network is down.
self.addEventListener('fetch', (e) => {
  if (!shell(e.request)) return;
  e.respondWith(fetch(e.request).then((r) => {
    if (r.ok && r.type === 'basic') {
      const copy = r.clone();
      caches.open(CACHE).then((c) => c.put(e.request, copy));
    }
    return r;
  }).catch(() => caches.match(e.request).then((r) => r || Response.error())));
});
