// tuf-js's side of TufBench, on the files TufBench generated, with the npm packages of tests/peers.
//
//   node tufjs_bench.cjs PEERS_DIR time FILE ROLE DELEGATOR ITERATIONS WARMUP
//   node tufjs_bench.cjs PEERS_DIR verify FILE ROLE DELEGATOR ITERATIONS WARMUP
//   node tufjs_bench.cjs PEERS_DIR memory FILE ROLE DELEGATOR
//
// Operations (every one starts from the file's bytes in memory):
//   canonicalize        @tufjs/canonical-json canonicalize of the signed part of a document parsed beforehand, as a Buffer
//   parse+canonicalize  JSON.parse of the whole document (UTF-8 decoding included), then the same
//   verify-json         JSON.parse, then the delegating role's Key.verifySignature (tuf-js's own canonicalize +
//                       crypto.verify) on the parsed JSON, without building the metadata model
//   verify              (own mode) JSON.parse + Metadata.fromJSON + the delegator's verifyDelegate: tuf-js's full
//                       path. Run separately because the model's fromJSON grows quadratically with the number of
//                       targets and roles; TufBench stops it after a time limit.
// Prints one JSON line in TufBench's result shape (wall-clock and process CPU milliseconds). memory: one full verify in a fresh process, VmHWM as the peak.
'use strict';
const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

const [peersDir, mode, file, role, delegatorFile] = process.argv.slice(2);
const peerRequire = createRequire(path.join(path.resolve(peersDir), 'package.json'));
const { Metadata } = peerRequire('@tufjs/models');
const { canonicalize } = peerRequire('@tufjs/canonical-json');

const data = fs.readFileSync(file);
const delegator = Metadata.fromJSON('targets', JSON.parse(fs.readFileSync(delegatorFile, 'utf8')));

function parse(bytes) {
  return JSON.parse(bytes.toString('utf8'));
}

function verifyFull(bytes) {
  const metadata = Metadata.fromJSON('targets', parse(bytes));
  delegator.verifyDelegate(role, metadata);
}

// The library's signature check on plain JSON: a stand-in with the two members Key.verifySignature reads.
function verifyJson(bytes) {
  const doc = parse(bytes);
  const signatures = {};
  for (const s of doc.signatures) {
    signatures[s.keyid] = s;
  }
  const stand = { signed: { toJSON: () => doc.signed }, signatures };
  const roleInfo = delegator.signed.delegations.roles[role];
  let valid = 0;
  for (const keyID of roleInfo.keyIDs) {
    delegator.signed.delegations.keys[keyID].verifySignature(stand);
    valid++;
  }
  if (valid < roleInfo.threshold) {
    throw new Error('threshold not met');
  }
}

// VmHWM of this process's own memory: resourceUsage().maxRSS would carry the parent's peak over from fork.
function peakRssBytes() {
  const line = fs.readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
  return Number(line.split(/\s+/)[1]) * 1024;
}

function measure(iterations, warmup, action) {
  // The same warm-up rule as the other implementations: at least `warmup` runs and one second.
  const started = process.hrtime.bigint();
  for (let i = 0; i < warmup || process.hrtime.bigint() - started < 1000000000n; i++) {
    action();
  }
  const wall = [];
  const cpu = [];
  for (let i = 0; i < iterations; i++) {
    if (global.gc) {
      global.gc();
    }
    const cpuStart = process.cpuUsage();
    const start = process.hrtime.bigint();
    action();
    wall.push(Math.round(Number(process.hrtime.bigint() - start) / 1000) / 1000);
    const used = process.cpuUsage(cpuStart);
    cpu.push((used.user + used.system) / 1000);
  }
  return { wall, cpu };
}

const result = { impl: 'tuf-js', workload: path.basename(file, '.json'), file_bytes: data.length, ops_ms: {}, ops_cpu_ms: {} };
function record(op, samples) {
  result.ops_ms[op] = samples.wall;
  result.ops_cpu_ms[op] = samples.cpu;
}
if (mode === 'time') {
  const [iterations, warmup] = process.argv.slice(7).map(Number);
  const signed = parse(data).signed;
  record('canonicalize', measure(iterations, warmup, () => Buffer.from(canonicalize(signed))));
  record('parse+canonicalize', measure(iterations, warmup, () => Buffer.from(canonicalize(parse(data).signed))));
  record('verify-json', measure(iterations, warmup, () => verifyJson(data)));
} else if (mode === 'verify') {
  const [iterations, warmup] = process.argv.slice(7).map(Number);
  record('verify', measure(iterations, warmup, () => verifyFull(data)));
} else {
  const baseline = peakRssBytes();
  verifyJson(data);
  result.peak_rss_bytes = peakRssBytes();
  result.baseline_rss_bytes = baseline;
}
console.log(JSON.stringify(result));
