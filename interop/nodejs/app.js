// A tiny http.createServer application wrapped by the official Node.js
// module, sigsci-module-nodejs, for the interop test (nodejs_test.go) and
// the conformance suite (fakeagent conformance).
//
//   node app.js AGENT-ADDRESS [LISTEN-PORT]
//
// AGENT-ADDRESS is a Unix socket path when it contains a slash, else
// host:port. The app listens on 127.0.0.1 (port 0: any free one) and
// prints "nodejs-interop: listening on http://127.0.0.1:PORT" once ready.
//
// Routes, as the conformance suite expects them:
//   GET /healthz      "ok", never sent to the agent
//   GET /headers      the X-Sigsci-* request headers the app sees, as JSON:
//                     the client's, then what the module handed over in
//                     req.SigSciAgent (the Node.js module sets no request
//                     headers: WAFResponse, RequestID, RequestHeaders)
//   GET /sigsci-agent req.SigSciAgent as the module left it, as JSON
//   anything else     upstream mtest's query parameters: response_code,
//                     response_time (ms), size, echo; "OK" without them
'use strict'

const http = require('http')
const Sigsci = require('sigsci-module-nodejs')

const agent = process.argv[2]
const listenPort = parseInt(process.argv[3] || '0', 10)
if (!agent) {
  console.error('usage: node app.js AGENT-ADDRESS [LISTEN-PORT]')
  process.exit(2)
}

const options = { log: function (msg) { console.error(msg) } }
if (agent.indexOf('/') !== -1) {
  options.path = agent.replace(/^unix:/, '')
} else {
  const hp = agent.replace(/^tcp:/, '')
  const i = hp.lastIndexOf(':')
  options.host = hp.slice(0, i).replace(/^\[|\]$/g, '')
  options.port = parseInt(hp.slice(i + 1), 10)
}
const sigsci = new Sigsci(options)

function sigsciHeaders (req) {
  const out = {}
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i].toLowerCase()
    if (name.startsWith('x-sigsci-')) {
      out[name] = req.rawHeaders[i + 1]
    }
  }
  const reply = req.SigSciAgent
  if (reply) {
    out['x-sigsci-agentresponse'] = String(reply.WAFResponse)
    if (reply.RequestID) {
      out['x-sigsci-requestid'] = reply.RequestID
    }
    for (const [name, value] of reply.RequestHeaders || []) {
      out[name.toLowerCase()] = value
    }
  }
  return out
}

function mtest (req, res, url) {
  const q = url.searchParams
  const chunks = []
  req.on('data', function (c) { chunks.push(c) })
  req.on('end', function () {
    let body = Buffer.from('OK')
    const size = parseInt(q.get('size'), 10)
    if (size >= 0) {
      body = Buffer.alloc(size, 'a')
    }
    if (q.get('echo')) {
      body = Buffer.concat(chunks)
    }
    let code = parseInt(q.get('response_code'), 10)
    if (!(code >= 200 && code <= 599)) {
      code = 200
    }
    const delay = parseInt(q.get('response_time'), 10) || 0
    setTimeout(function () {
      const headers = { 'Content-Type': 'text/plain', 'Content-Length': body.length }
      if (code >= 300 && code < 400) {
        headers.Location = '/'
      }
      res.writeHead(code, headers)
      res.end(body)
    }, delay)
  })
}

function app (req, res) {
  const url = new URL(req.url, 'http://' + (req.headers.host || 'localhost'))
  if (req.method === 'GET' && url.pathname === '/headers') {
    res.writeHead(200, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify(sigsciHeaders(req)))
    return
  }
  if (req.method === 'GET' && url.pathname === '/sigsci-agent') {
    res.writeHead(200, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify(req.SigSciAgent || null))
    return
  }
  mtest(req, res, url)
}

const wrapped = sigsci.wrap(app)
const server = http.createServer(function (req, res) {
  if (req.method === 'GET' && req.url === '/healthz') {
    res.end('ok\n')
    return
  }
  wrapped(req, res)
})
server.listen(listenPort, '127.0.0.1', function () {
  console.log('nodejs-interop: listening on http://127.0.0.1:' + server.address().port + ' (agent ' + agent + ')')
})
function stop () { server.close(function () { process.exit(0) }) ; server.closeAllConnections() }
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
