#!/usr/bin/env node
// grpc-call.mjs: call one gRPC method with @grpc/grpc-js, messages loaded at run time by @grpc/proto-loader.
//
// Usage:
//   node grpc-call.mjs --target TARGET --proto-root DIR --proto FILE [--proto FILE ...]
//        --method package.Service/Method [--request JSON | --request-file FILE]
//        [--deadline-ms N] [--metadata KEY=VALUE ...]
//   node grpc-call.mjs --proto-root DIR --proto FILE [...] --list
//
//   TARGET  unix:///absolute/path.sock (a Unix domain socket) or 127.0.0.1:PORT
//   JSON    the request as an object with the .proto field names (bytes as base64, 64-bit integers as
//           strings or numbers); default {}.
//
// Output (stdout, one JSON document):
//   {"ok":true,"code":0,"code_name":"OK","details":"","responses":[...]}
//   {"ok":false,"code":N,"code_name":"UNAVAILABLE","details":"...","responses":[...]}
//   responses carry every field (defaults too) with .proto names, bytes as base64, 64-bit integers as
//   strings; a server-streaming method gives every message received (also those before an error).
//   --list: {"ok":true,"methods":[{"method","request","response","server_streaming","client_streaming"}]}
// Exit codes: 0 status OK; 1 a non-OK status; 2 usage error or unreadable .proto files.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

function usage(message) {
  process.stderr.write(`grpc-call: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const a = { protos: [], metadata: [], deadlineMs: 30000, list: false };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i];
    const value = () => (i + 1 < argv.length ? argv[++i] : usage(`${name} needs a value`));
    switch (name) {
      case '--target': a.target = value(); break;
      case '--proto-root': a.protoRoot = value(); break;
      case '--proto': a.protos.push(value()); break;
      case '--method': a.method = value(); break;
      case '--request': a.request = value(); break;
      case '--request-file': a.request = fs.readFileSync(value(), 'utf8'); break;
      case '--deadline-ms': a.deadlineMs = Number(value()); break;
      case '--metadata': a.metadata.push(value()); break;
      case '--list': a.list = true; break;
      default: usage(`unknown argument ${name}`);
    }
  }
  if (!a.protoRoot || a.protos.length === 0) {
    usage('--proto-root and at least one --proto are required');
  }
  return a;
}

const CODE_NAMES = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k]));

function main() {
  const args = parseArgs(process.argv.slice(2));
  let definition;
  try {
    definition = protoLoader.loadSync(args.protos, {
      includeDirs: [path.resolve(args.protoRoot)],
      keepCase: true,
      longs: String,
      enums: String,
      bytes: String,
      defaults: true,
      oneofs: true,
    });
  } catch (error) {
    usage(`cannot load protos: ${error.message}`);
  }

  // Services are the entries whose values are method maps (each method has a path); message types are
  // the entries with a descriptor format, named by their full name.
  const typeNames = Object.keys(definition).filter((name) => typeof definition[name]?.format === 'string');
  // proto-loader gives a method's message types by short name; the full name is the one type name
  // that ends with it, preferring the service's own package.
  const fullTypeName = (service, shortName) => {
    const pkg = service.slice(0, service.lastIndexOf('.') + 1);
    if (typeNames.includes(pkg + shortName)) {
      return pkg + shortName;
    }
    const found = typeNames.filter((n) => n === shortName || n.endsWith('.' + shortName));
    return found.length === 1 ? found[0] : shortName;
  };
  const methods = {};
  for (const [name, value] of Object.entries(definition)) {
    if (value && typeof value === 'object' && !value.format) {
      for (const [methodName, m] of Object.entries(value)) {
        if (m && typeof m.path === 'string') {
          methods[`${name}/${methodName}`] = m;
        }
      }
    }
  }

  if (args.list) {
    const list = Object.entries(methods).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).map(([name, m]) => ({
      method: name,
      request: fullTypeName(name.slice(0, name.indexOf('/')), m.requestType.type.name),
      response: fullTypeName(name.slice(0, name.indexOf('/')), m.responseType.type.name),
      client_streaming: m.requestStream,
      server_streaming: m.responseStream,
    }));
    process.stdout.write(JSON.stringify({ ok: true, methods: list }) + '\n');
    return;
  }

  if (!args.target || !args.method) {
    usage('--target and --method are required');
  }
  const method = methods[args.method.replace(/^\//, '')];
  if (!method) {
    usage(`no method ${args.method} in the given protos`);
  }
  if (method.requestStream) {
    usage('client-streaming methods are not supported');
  }

  const request = JSON.parse(args.request ?? '{}');
  const metadata = new grpc.Metadata();
  for (const kv of args.metadata) {
    const at = kv.indexOf('=');
    metadata.add(kv.slice(0, at), kv.slice(at + 1));
  }
  const client = new grpc.Client(args.target, grpc.credentials.createInsecure());
  const options = { deadline: new Date(Date.now() + args.deadlineMs) };
  const responses = [];
  const finish = (error) => {
    client.close();
    const code = error ? error.code ?? grpc.status.UNKNOWN : grpc.status.OK;
    const result = {
      ok: code === grpc.status.OK,
      code,
      code_name: CODE_NAMES[code] ?? String(code),
      details: error ? error.details ?? error.message : '',
      responses,
    };
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exitCode = result.ok ? 0 : 1;
  };

  if (method.responseStream) {
    const call = client.makeServerStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, request, metadata, options);
    let done = false;
    call.on('data', (reply) => responses.push(reply));
    call.on('error', (error) => { if (!done) { done = true; finish(error); } });
    call.on('end', () => { if (!done) { done = true; finish(null); } });
  } else {
    client.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, request, metadata, options, (error, reply) => {
      if (!error) {
        responses.push(reply);
      }
      finish(error);
    });
  }
}

main();
