#!/usr/bin/env node
// tufjs-refresh.mjs: an independent TUF client (tuf-js) refreshing from a repository folder.
//
// Usage:
//   node tufjs-refresh.mjs REPO_DIR TRUSTED_ROOT [TARGET_PATH ...]
//        [--metadata-dir DIR] [--targets-dir DIR] [--info-only]
//
//   REPO_DIR      a TUF repository laid out as python-tuf does: REPO_DIR/metadata (N.root.json,
//                 timestamp.json, VERSION.ROLE.json with consistent snapshots) and REPO_DIR/targets
//                 (HASH.NAME when consistent_snapshot is true).
//   TRUSTED_ROOT  the root the client trusts initially. Copied into the client's metadata folder
//                 unless that folder already holds a root.json (a persistent client, see below);
//                 pass "-" to require such a cached root.
//   TARGET_PATH   targets to look up (getTargetInfo) and download (downloadTarget) after refresh().
//   --metadata-dir  a persistent client metadata folder: the cached state of an earlier run is
//                 reused, so a test can refresh, change the repository, and refresh again (root
//                 rotation, rollback and freeze tests). Default: a fresh temporary folder.
//   --targets-dir   where downloaded targets go. Default: a fresh temporary folder.
//   --info-only     look the targets up (getTargetInfo) without downloading them.
//
// The repository folder is served by this script on 127.0.0.1 with an ephemeral port (node's
// http module; GET of regular files under REPO_DIR only), so tuf-js fetches over real HTTP.
//
// Output (stdout, one JSON document):
//   {"ok":true,"root_version":N,"timestamp_version":N,"snapshot_version":N,"targets_version":N,
//    "targets":[{"path","length","hashes","file","sha256"}],"requests":["200 /metadata/2.root.json",...]}
//   {"ok":false,"error":"<ErrorClass>: <message>","requests":[...]}
// Exit codes: 0 refreshed (and every requested target found and verified), 1 the client refused
// or failed (the error says why), 2 usage error.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Updater } from 'tuf-js';

function usage(message) {
  process.stderr.write(`tufjs-refresh: ${message}\n`);
  process.stderr.write('usage: node tufjs-refresh.mjs REPO_DIR TRUSTED_ROOT [TARGET_PATH ...] [--metadata-dir DIR] [--targets-dir DIR] [--info-only]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const positional = [];
  const options = { metadataDir: null, targetsDir: null, infoOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--info-only') {
      options.infoOnly = true;
    } else if (a === '--metadata-dir' || a === '--targets-dir') {
      if (i + 1 >= argv.length) {
        usage(`${a} needs a value`);
      }
      options[a === '--metadata-dir' ? 'metadataDir' : 'targetsDir'] = argv[++i];
    } else if (a.startsWith('--')) {
      usage(`unknown option ${a}`);
    } else {
      positional.push(a);
    }
  }
  if (positional.length < 2) {
    usage('REPO_DIR and TRUSTED_ROOT are required');
  }
  const [repoDir, trustedRoot, ...targets] = positional;
  return { repoDir: path.resolve(repoDir), trustedRoot, targets, ...options };
}

// Resolves a request path to a regular file inside root, or null. A segment is tried first as
// written (a file whose name is itself percent-encoded, as tuf-js encodes delegated role names)
// and then decoded; nothing may leave root.
function resolveFile(root, urlPath) {
  const candidates = [];
  const raw = urlPath.split('?')[0];
  candidates.push(raw);
  try {
    candidates.push(decodeURIComponent(raw));
  } catch {
    // Malformed escapes: only the raw form is tried.
  }
  for (const c of candidates) {
    if (c.includes('\0')) {
      continue;
    }
    const full = path.resolve(root, '.' + path.posix.normalize('/' + c));
    if (full !== root && !full.startsWith(root + path.sep)) {
      continue;
    }
    try {
      const real = fs.realpathSync(full);
      if ((real === root || real.startsWith(root + path.sep)) && fs.statSync(real).isFile()) {
        return real;
      }
    } catch {
      // Not there: try the next form.
    }
  }
  return null;
}

function serve(root, requests) {
  const realRoot = fs.realpathSync(root);
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET') {
      requests.push(`405 ${req.method} ${req.url}`);
      res.writeHead(405).end();
      return;
    }
    const file = resolveFile(realRoot, req.url ?? '/');
    if (file === null) {
      requests.push(`404 ${req.url}`);
      res.writeHead(404).end();
      return;
    }
    const body = fs.readFileSync(file);
    requests.push(`200 ${req.url}`);
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
    res.end(body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

class TargetNotFoundError extends Error {}

function describe(error) {
  const name = error?.constructor?.name ?? 'Error';
  const message = error?.message ?? String(error);
  const status = error?.statusCode ? ` (HTTP ${error.statusCode})` : '';
  return `${name}: ${message}${status}`;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(path.join(args.repoDir, 'metadata'))) {
    usage(`${args.repoDir} has no metadata folder`);
  }

  const temps = [];
  const makeTemp = (prefix) => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    temps.push(d);
    return d;
  };
  const metadataDir = args.metadataDir ? path.resolve(args.metadataDir) : makeTemp('tufjs-meta-');
  const targetsDir = args.targetsDir ? path.resolve(args.targetsDir) : makeTemp('tufjs-targets-');
  fs.mkdirSync(metadataDir, { recursive: true });
  fs.mkdirSync(targetsDir, { recursive: true });

  const cachedRoot = path.join(metadataDir, 'root.json');
  if (!fs.existsSync(cachedRoot)) {
    if (args.trustedRoot === '-') {
      usage(`no cached root.json in ${metadataDir} and no trusted root given`);
    }
    fs.copyFileSync(args.trustedRoot, cachedRoot);
  }

  const requests = [];
  const server = await serve(args.repoDir, requests);
  const base = `http://127.0.0.1:${server.address().port}`;
  let result;
  try {
    const updater = new Updater({
      metadataDir,
      metadataBaseUrl: `${base}/metadata`,
      targetDir: targetsDir,
      targetBaseUrl: `${base}/targets`,
      // A refusal must surface at once, not after retries.
      config: { fetchRetry: 0, fetchTimeout: 30000 },
    });
    await updater.refresh();

    const targets = [];
    for (const targetPath of args.targets) {
      const info = await updater.getTargetInfo(targetPath);
      if (!info) {
        throw new TargetNotFoundError(`target ${targetPath} not found in trusted targets metadata`);
      }
      if (args.infoOnly) {
        targets.push({ path: info.path, length: info.length, hashes: info.hashes, sha256: null, file: null });
        continue;
      }
      const file = await updater.downloadTarget(info);
      const sha256 = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
      // The file path is reported only when it outlives this run (a caller-owned --targets-dir).
      targets.push({ path: info.path, length: info.length, hashes: info.hashes, sha256, file: args.targetsDir ? file : null });
    }

    // The updater keeps its trusted set private; the versions it accepted are what it persisted.
    const readVersion = (role) => {
      const f = path.join(metadataDir, `${role}.json`);
      return fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')).signed.version : null;
    };
    result = {
      ok: true,
      root_version: readVersion('root'),
      timestamp_version: readVersion('timestamp'),
      snapshot_version: readVersion('snapshot'),
      targets_version: readVersion('targets'),
      targets,
      requests,
    };
  } catch (error) {
    result = { ok: false, error: describe(error), requests };
  } finally {
    server.close();
    // Only the temporary folders made here are removed; a persistent one belongs to the caller.
    for (const d of temps) {
      fs.rmSync(d, { recursive: true, force: true });
    }
  }

  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(result.ok ? 0 : 1);
}

main().catch((error) => {
  process.stdout.write(JSON.stringify({ ok: false, error: describe(error), requests: [] }) + '\n');
  process.exit(1);
});
