// nodeio.js DATA — Node.js (libuv's epoll loop and thread pool, its child
// processes and IPC, V8's heap) through the calls the shim takes over.
// Everything it prints is deterministic; it works in the current
// directory, talks over loopback only and ends every server and child it
// starts.  A step that hangs ends the run after 60 s (exit 3).
'use strict';
const fs = require('fs'), path = require('path'), cp = require('child_process');
const net = require('net'), http = require('http'), dgram = require('dgram');
const zlib = require('zlib'), crypto = require('crypto'), readline = require('readline');
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');

const DATA = process.argv[2];
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex').slice(0, 16);
const out = (...a) => console.log(...a);

if (!isMainThread) { // a worker: wait on the shared word, then read a file
	const ia = new Int32Array(workerData.sab);
	parentPort.postMessage('waiting');
	const r = Atomics.wait(ia, workerData.i, 0, 20000);
	Atomics.add(ia, 8, 1);
	parentPort.postMessage(`${workerData.i} ${r} ${fs.readFileSync(path.join(DATA, 'small')).length}`);
	return;
}
if (process.argv[3] === 'child') { // fork()'s child: echoes, takes a server and a socket
	let srv;
	process.on('message', (m, h) => {
		if (m === 'server') { srv = h; h.on('connection', (s) => s.end('from the child\n')); process.send('ready'); }
		else if (m === 'socket') h.end('the child took the socket\n');
		else if (m === 'bye') { srv.close(); process.disconnect(); }
		else process.send({ echo: m.n, len: m.pad.length });
	});
	return;
}
setTimeout(() => { console.error('nodeio: a step hung'); process.exit(3); }, 60000).unref();

async function files() {
	const big = fs.readFileSync(path.join(DATA, 'big'));
	out('readFileSync big', big.length, sha(big));
	const fd = fs.openSync('w.bin', 'w+');
	out('writeSync', fs.writeSync(fd, big, 0, 5 << 20, 0), 'pread at the end', fs.readSync(fd, Buffer.alloc(100), 0, 100, (5 << 20) - 40));
	fs.ftruncateSync(fd, 1000); fs.fsyncSync(fd); out('ftruncate', fs.fstatSync(fd).size); fs.closeSync(fd);
	const fp = fs.promises;
	await fp.writeFile('p.bin', big.subarray(0, 3 << 20));
	out('promises', sha(await fp.readFile('p.bin')));
	const fh = await fp.open('p.bin', 'r+');
	await fh.write('XYZ', 3); await fh.datasync(); await fh.truncate(10); await fh.close();
	out('filehandle', (await fp.readFile('p.bin')).toString('hex'));
	let n = 0; const h = crypto.createHash('sha256');
	await new Promise((res) => fs.createReadStream(path.join(DATA, 'big'), { highWaterMark: 7777 })
		.on('data', (c) => { n += c.length; h.update(c); }).on('end', res));
	out('read stream', n, h.digest('hex').slice(0, 16));
	await new Promise((res) => { const w = fs.createWriteStream('s.bin'); for (let i = 0; i < 100; i++) w.write(big.subarray(i * 30000, (i + 1) * 30000)); w.end(res); });
	fs.copyFileSync('s.bin', 's2.bin'); await fp.copyFile('s.bin', 's3.bin');
	out('copies', sha(fs.readFileSync('s2.bin')), sha(fs.readFileSync('s3.bin')));
	try { fs.copyFileSync('s.bin', 's2.bin', fs.constants.COPYFILE_EXCL); } catch (e) { out('COPYFILE_EXCL', e.code); }
	fs.cpSync(path.join(DATA, 'tree'), 'tree', { recursive: true }); await fp.cp('tree', 'tree2', { recursive: true });
	out('cp', sha(fs.readFileSync('tree2/a/b/c/five-mib')), fs.readdirSync('tree2/a').sort().join());
	await fp.rm('tree2', { recursive: true }); fs.rmSync('tree', { recursive: true });
	out('rm', fs.existsSync('tree'), fs.existsSync('tree2'));
	for (const [what, f] of [['open', () => fs.openSync('missing/x')], ['rmdir', () => fs.rmdirSync('.')], ['close', () => fs.closeSync(9999)]])
		try { f(); } catch (e) { out(what, e.code); }
	const all = await Promise.all(Array.from({ length: 64 }, () => fp.readFile(path.join(DATA, 'small'))));
	out('64 reads at once', all.every((b) => b.length === 100000));
	fs.mkdirSync('watched');
	const seen = new Set(), w = fs.watch('watched', (ev, name) => seen.add(`${ev}:${name}`));
	await new Promise((r) => setTimeout(r, 100)); fs.writeFileSync('watched/one', 'x');
	await new Promise((r) => setTimeout(r, 300)); w.close(); fs.rmSync('watched', { recursive: true });
	out('fs.watch saw one', [...seen].some((s) => s.endsWith(':one')));
}

async function children() {
	const r = cp.spawnSync('cat', [], { input: Buffer.alloc(300000, 97) });
	out('spawnSync cat', r.status, r.stdout.length);
	const r2 = cp.spawnSync('sh', ['-c', 'echo out; echo err >&2; exit 3']);
	out('spawnSync sh', r2.status, JSON.stringify(`${r2.stdout}${r2.stderr}`));
	out('spawnSync timeout', cp.spawnSync('sleep', ['5'], { timeout: 200 }).signal);
	out('spawnSync ENOENT', cp.spawnSync('/nonexistent').error.code);
	await new Promise((res) => cp.exec('head -c 3000000 /dev/zero | tr "\\0" a', { maxBuffer: 10 << 20 }, (e, o) => { out('exec big stdout', e, o.length); res(); }));
	const codes = await Promise.all(Array.from({ length: 30 }, (_, i) => new Promise((r) => cp.spawn('sh', ['-c', `exit ${i % 7}`]).on('exit', r))));
	out('30 exits', codes.join(''));
	const k = cp.spawn('sleep', ['10']); setTimeout(() => k.kill('SIGKILL'), 50);
	out('killed', await new Promise((r) => k.on('exit', (c, s) => r(`${c} ${s}`))));
	const c = cp.fork(__filename, [DATA, 'child']);
	const exited = new Promise((r) => c.on('exit', (code, s) => r(`${code} ${s}`)));
	let echoes = 0, bytes = 0;
	await new Promise((res) => { c.on('message', (m) => { echoes++; bytes += m.len; if (m.echo === 99) res(); }); for (let i = 0; i < 100; i++) c.send({ n: i, pad: 'p'.repeat(i * 100) }); });
	c.removeAllListeners('message');
	out('IPC echoes', echoes, bytes);
	const srv = net.createServer();
	await new Promise((r) => srv.listen(0, '127.0.0.1', r));
	const port = srv.address().port;
	await new Promise((r) => { c.once('message', r); c.send('server', srv); });
	srv.close();
	out('server handed over:', await new Promise((r) => net.connect(port, '127.0.0.1').on('data', (d) => r(`${d}`.trim()))));
	const s2 = net.createServer((sock) => c.send('socket', sock));
	await new Promise((r) => s2.listen(0, '127.0.0.1', r));
	out('socket handed over:', await new Promise((r) => { let g = ''; net.connect(s2.address().port, '127.0.0.1').on('data', (d) => { g += d; }).on('end', () => r(g.trim())); }));
	s2.close(); c.send('bye');
	out('child exit', await exited);
}

async function network() {
	const srv = net.createServer((s) => { let n = 0; s.on('data', (b) => { n += b.length; }); s.on('end', () => s.end(`got ${n}`)); });
	await new Promise((r) => srv.listen(0, '127.0.0.1', r));
	out('tcp', await new Promise((r) => { let g = ''; const c = net.connect(srv.address().port, '127.0.0.1', () => c.end(Buffer.alloc(4 << 20, 1))); c.on('data', (d) => { g += d; }).on('close', () => r(g)); }));
	await new Promise((r) => srv.close(r));
	const us = net.createServer((s) => s.pipe(s));
	await new Promise((r) => us.listen('sock', r));
	out('unix', await new Promise((r) => { let g = ''; const c = net.connect('sock'); c.on('data', (d) => { g += d; if (g.length >= 11) c.end(); }).on('close', () => r(g)); c.write('hello unix!'); }));
	await new Promise((r) => us.close(r));
	const gone = net.createServer(); await new Promise((r) => gone.listen(0, '127.0.0.1', r));
	const gp = gone.address().port; await new Promise((r) => gone.close(r));
	out('refused', await new Promise((r) => net.connect(gp, '127.0.0.1').on('error', (e) => r(e.code))));
	const hs = http.createServer((q, s) => { let b = 0; q.on('data', (x) => { b += x.length; }); q.on('end', () => { s.setHeader('x-len', b); s.end('x'.repeat(100000)); }); });
	await new Promise((r) => hs.listen(0, '127.0.0.1', r));
	const agent = new http.Agent({ keepAlive: true, maxSockets: 4 }), hp = hs.address().port;
	const one = (i) => new Promise((r) => http.request({ port: hp, host: '127.0.0.1', method: 'POST', agent }, (rs) => { let n = 0; rs.on('data', (x) => { n += x.length; }); rs.on('end', () => r(`${rs.headers['x-len']}/${n}`)); }).end('y'.repeat(i * 1000)));
	const v = await Promise.all(Array.from({ length: 30 }, (_, i) => one(i)));
	out('http', v.length, v.slice(0, 3).join(' '), v[29]);
	agent.destroy(); await new Promise((r) => hs.close(r));
	const u = dgram.createSocket('udp4'), uc = dgram.createSocket('udp4');
	await new Promise((r) => u.bind(0, '127.0.0.1', r));
	out('udp', await new Promise((r) => { let n = 0; u.on('message', (m) => { if (++n === 50) r(`${n} ${m}`); }); for (let i = 0; i < 50; i++) uc.send(`m${i}`, u.address().port, '127.0.0.1'); }));
	out('udp too big', await new Promise((r) => uc.send(Buffer.alloc(70000), u.address().port, '127.0.0.1', (e) => r(e && e.code))));
	u.close(); uc.close();
}

async function fromPython() { // a client of python3's http.server, stopped by pid
	const python = process.env.PYTHON || 'python3';
	if (cp.spawnSync(python, ['-c', '1']).status !== 0) { out('python3: not installed'); return; }
	fs.mkdirSync('srv');
	const logfd = fs.openSync('srv/log', 'w');
	const py = cp.spawn(python, ['-u', '-m', 'http.server', '--bind', '127.0.0.1', '-d', DATA, '0'], { stdio: ['ignore', logfd, 'ignore'] });
	fs.closeSync(logfd);
	let port;
	for (let i = 0; i < 200 && !port; i++) { await new Promise((r) => setTimeout(r, 50)); port = (/port (\d+)/.exec(fs.readFileSync('srv/log', 'utf8')) || [])[1]; }
	const get = (p) => new Promise((r) => http.get({ host: '127.0.0.1', port, path: p }, (rs) => { const h = crypto.createHash('sha256'); rs.on('data', (x) => h.update(x)); rs.on('end', () => r(`${rs.statusCode}:${h.digest('hex').slice(0, 16)}`)); }).on('error', (e) => r(e.code)));
	const got = [];
	for (const p of ['/big', '/small', '/missing']) got.push(await get(p));
	out('python http.server', got.join(' '));
	py.kill(); await new Promise((r) => py.on('exit', r));
}

async function rest() {
	const sab = new SharedArrayBuffer(64), ia = new Int32Array(sab), res = [];
	await Promise.all([0, 1, 2].map((i) => new Promise((done) => {
		const w = new Worker(__filename, { argv: [DATA], workerData: { sab, i } });
		w.on('message', (m) => { if (m === 'waiting') setTimeout(() => { Atomics.store(ia, i, 1); Atomics.notify(ia, i); }, 30); else res.push(m); });
		w.on('exit', done);
	})));
	out('workers', res.sort().join(' | '), Atomics.load(ia, 8));
	const keep = setInterval(() => {}, 1000);
	out('SIGUSR2', await new Promise((r) => { process.once('SIGUSR2', () => r('handled')); process.kill(process.pid, 'SIGUSR2'); }));
	clearInterval(keep);
	const data = fs.readFileSync(path.join(DATA, 'small'));
	const z = await new Promise((r) => { const chunks = []; const g = zlib.createGzip(), u = zlib.createGunzip(); g.pipe(u); u.on('data', (c) => chunks.push(c)).on('end', () => r(Buffer.concat(chunks))); g.end(data); });
	out('zlib streams', z.equals(data), zlib.brotliDecompressSync(zlib.brotliCompressSync(data)).equals(data));
	out('randomBytes', crypto.randomBytes(1 << 20).length, (await new Promise((r) => crypto.randomBytes(32, (e, b) => r(b)))).length);
	const sh = cp.spawn('sh', ['-c', `head -n 5000 ${path.join(DATA, 'text')}`]);
	const rl = readline.createInterface({ input: sh.stdout }); let lines = 0, last = '';
	for await (const l of rl) { lines++; last = l; }
	out('readline on a pipe', lines, last);
}

(async () => {
	await files(); await children(); await network(); await fromPython(); await rest();
	out('done');
})();
