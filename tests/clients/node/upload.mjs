// Uploads one file with tus-js-client, all settings at their defaults but those given, and
// prints one JSON line saying how the client saw it end: {"outcome": "success"|"error", ...}.
// Driven by tests/uploads/test_tus_js.py against a live Casefile server.
//
// node upload.mjs '{"endpoint": ..., "token": ..., "file": ..., "metadata": {...},
//                   "uploadUrl": optional, "chunkSize": optional}'
import { readFileSync } from 'node:fs'
import * as tus from 'tus-js-client'

const args = JSON.parse(process.argv[2])
const data = readFileSync(args.file)
const options = {
  endpoint: args.endpoint,
  headers: { Authorization: `Bearer ${args.token}` },
  metadata: args.metadata,
}
if (args.uploadUrl) options.uploadUrl = args.uploadUrl
if (args.chunkSize) options.chunkSize = args.chunkSize

const requests = []
options.onAfterResponse = (req, res) => {
  requests.push({ method: req.getMethod(), status: res.getStatus() })
}

function report(outcome, upload, extra) {
  process.stdout.write(`${JSON.stringify({ outcome, url: upload.url, requests, ...extra })}\n`)
}

let upload
await new Promise((resolve) => {
  options.onSuccess = (payload) => {
    const res = payload.lastResponse
    report('success', upload, { evidenceId: res.getHeader('Casefile-Evidence-Id') ?? null })
    resolve()
  }
  options.onError = (error) => {
    const res = error.originalResponse
    report('error', upload, {
      message: String(error.message),
      status: res ? res.getStatus() : null,
      body: res ? res.getBody() : null,
    })
    resolve()
  }
  upload = new tus.Upload(data, options)
  upload.start()
})
