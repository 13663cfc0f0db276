// A loopback Stripe for the browser tests (run.sh starts it before the server): Checkout
// Sessions create/retrieve as in Stripe's API reference, and the hosted checkout page
// replaced by a test redirect that marks the session paid, delivers a signed
// `checkout.session.completed` to the gateway's webhook and returns to `success_url`.
// Usage: node stripe-sim.mjs PORT WEBHOOK_URL  (secrets below match run.sh's config).
import http from "node:http";
import crypto from "node:crypto";

const [port, webhookUrl] = process.argv.slice(2);
const SECRET_KEY = "sk_test_e2e";
const WEBHOOK_SECRET = "whsec_e2e";
const sessions = new Map();
let seq = 0;

function send(res, status, body, headers = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

async function deliver(session) {
  const event = JSON.stringify({
    id: `evt_e2e_${++seq}`,
    object: "event",
    type: "checkout.session.completed",
    created: Math.floor(Date.now() / 1000),
    data: { object: session },
  });
  const t = Math.floor(Date.now() / 1000);
  const v1 = crypto.createHmac("sha256", WEBHOOK_SECRET).update(`${t}.${event}`).digest("hex");
  await fetch(webhookUrl, { method: "POST", headers: { "content-type": "application/json", "stripe-signature": `t=${t},v1=${v1}` }, body: event });
}

http
  .createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", async () => {
      const url = new URL(req.url, `http://${req.headers.host}`);
      if (url.pathname.startsWith("/v1/") && req.headers.authorization !== `Bearer ${SECRET_KEY}`) {
        return send(res, 401, { error: { type: "invalid_request_error", message: "Invalid API Key provided" } });
      }
      if (req.method === "POST" && url.pathname === "/v1/checkout/sessions") {
        const f = Object.fromEntries(new URLSearchParams(body));
        const id = `cs_test_e2e${++seq}`;
        const amount = Number(f["line_items[0][price_data][unit_amount]"]) * Number(f["line_items[0][quantity]"]);
        const s = {
          id,
          object: "checkout.session",
          mode: f.mode,
          status: "open",
          payment_status: "unpaid",
          amount_total: amount,
          currency: f["line_items[0][price_data][currency]"],
          client_reference_id: f.client_reference_id,
          success_url: f.success_url,
          cancel_url: f.cancel_url,
          payment_intent: null,
          url: `http://${req.headers.host}/pay/${id}`,
        };
        sessions.set(id, s);
        return send(res, 200, s);
      }
      const m = /^\/v1\/checkout\/sessions\/(\w+)$/.exec(url.pathname);
      if (req.method === "GET" && m) {
        const s = sessions.get(m[1]);
        return s ? send(res, 200, s) : send(res, 404, { error: { type: "invalid_request_error", message: "No such checkout.session" } });
      }
      const pay = /^\/pay\/(\w+)$/.exec(url.pathname);
      if (req.method === "GET" && pay && sessions.has(pay[1])) {
        const s = sessions.get(pay[1]);
        Object.assign(s, { status: "complete", payment_status: "paid", payment_intent: `pi_e2e_${++seq}` });
        await deliver(s);
        res.writeHead(303, { location: s.success_url.replace("{CHECKOUT_SESSION_ID}", s.id) });
        return res.end();
      }
      send(res, 404, { error: { type: "invalid_request_error", message: "Unrecognized request URL" } });
    });
  })
  .listen(Number(port), "127.0.0.1");
