//! A VideoApi upstream: a second, real, in-process VideoApi (its demo provider makes the
//! videos) behind a fault-injecting proxy. The proxy forwards the real protocol and adds
//! the harness controls: timelines and `hold()` on top of the real statuses, the trigger
//! words (`sim:fail` becomes the demo's `demo:fail`, `sim:block` is refused as a 422,
//! `sim:expired` results point at an expired file), and the fault queue. Result URLs are
//! rewritten to go through the proxy so downloads can be faulted too.

use super::*;

pub struct VideoApiProxy {
    /// The real upstream's base URL.
    pub target: String,
    client: reqwest::Client,
}

impl VideoApiProxy {
    pub fn new(target: &str) -> VideoApiProxy {
        VideoApiProxy {
            target: target.trim_end_matches('/').to_string(),
            client: {
                videoapi::tls::ensure_crypto_provider();
                reqwest::Client::new()
            },
        }
    }

    async fn forward(
        &self,
        req: &SimRequest,
        body: Option<bytes::Bytes>,
    ) -> (u16, String, bytes::Bytes) {
        let mut url = format!("{}{}", self.target, req.path);
        if !req.query.is_empty() {
            let q: Vec<String> = req.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            url = format!("{url}?{}", q.join("&"));
        }
        let method = reqwest::Method::from_bytes(req.method.as_bytes()).unwrap();
        let mut r = self.client.request(method, url);
        for h in ["authorization", "content-type", "idempotency-key", "accept"] {
            if let Some(v) = req.header(h) {
                r = r.header(h, v);
            }
        }
        if let Some(b) = body.or_else(|| (!req.body.is_empty()).then(|| req.body.clone())) {
            r = r.body(b);
        }
        let resp = r.send().await.expect("the upstream VideoApi answers");
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_string();
        (status, ct, resp.bytes().await.unwrap())
    }

    fn relay(&self, core: &Core, status: u16, ct: &str, body: &[u8]) -> Response {
        // Downloads go through the proxy too.
        let text = String::from_utf8_lossy(body).replace(&self.target, &core.base());
        Response::builder()
            .status(StatusCode::from_u16(status).unwrap())
            .content_type(ct)
            .body(text)
    }
}

fn error(status: u16, kind: &str, code: &str, message: &str, param: Option<&str>) -> Response {
    json_response(
        status,
        json!({"error": {"message": message, "type": kind, "code": code, "param": param}}),
    )
}

#[async_trait]
impl Upstream for VideoApiProxy {
    fn op(&self, req: &SimRequest) -> Op {
        let segs = req.segments();
        match (req.method.as_str(), segs.as_slice()) {
            ("POST", ["v1", "video", "generations"]) => Op::Create,
            ("GET", ["v1", "video", "generations", _]) => Op::Poll,
            ("GET", ["v1", "account"]) => Op::List,
            ("GET", ["videos", ..]) => Op::Download,
            _ => Op::Other,
        }
    }

    fn error_body(&self, status: u16, code: &str, message: &str) -> Value {
        let kind = match status {
            429 => "rate_limit_error",
            s if s >= 500 => "server_error",
            _ => "invalid_request_error",
        };
        json!({"error": {"message": message, "type": kind, "code": code, "param": null}})
    }

    async fn handle(&self, core: &Core, req: &SimRequest) -> Response {
        let account = req.bearer().unwrap_or_default().to_string();
        match req.op {
            Op::Create => {
                let mut b = req.json();
                let prompt = b["prompt"].as_str().unwrap_or_default().to_string();
                if blocked(&prompt) {
                    return error(
                        422,
                        "invalid_request_error",
                        "invalid_field",
                        "the prompt was refused by the content policy",
                        Some("prompt"),
                    );
                }
                b["prompt"] = json!(prompt.replace("sim:fail", "demo:fail"));
                let body = bytes::Bytes::from(b.to_string());
                let (status, ct, out) = self.forward(req, Some(body)).await;
                if status == 200 {
                    let v: Value = serde_json::from_slice(&out).unwrap();
                    let id = v["task_id"].as_str().unwrap().to_string();
                    if core.task(&id).is_none() {
                        let model = b["model"].as_str().unwrap_or_default().to_string();
                        core.create_task(&id, &model, b, &prompt, &account);
                    }
                }
                self.relay(core, status, &ct, &out)
            }
            Op::Poll => {
                let id = req.segments()[3].to_string();
                let step = core.step(&id, &account);
                let (status, ct, out) = self.forward(req, None).await;
                let Some((stage, t)) = step else {
                    return self.relay(core, status, &ct, &out);
                };
                let mut v: Value = serde_json::from_slice(&out).unwrap_or(Value::Null);
                match stage {
                    // The harness's timeline holds the real status back.
                    Stage::Queued | Stage::Running
                        if v["status"] == "completed" || v["status"] == "processing" =>
                    {
                        v["status"] = json!(if stage == Stage::Queued {
                            "pending"
                        } else {
                            "processing"
                        });
                        v["url"] = Value::Null;
                        v["videos"] = json!([]);
                        v["generated"] = json!([]);
                    }
                    Stage::Weird => v["status"] = json!("reviewing"),
                    _ if t.outcome == Outcome::Expired && v["status"] == "completed" => {
                        let url = core.mint_file(&t, None, None);
                        v["url"] = json!(url);
                        v["videos"] = json!([url]);
                    }
                    _ => {}
                }
                self.relay(core, status, &ct, v.to_string().as_bytes())
            }
            _ => {
                let (status, ct, out) = self.forward(req, None).await;
                if ct.starts_with("video/") {
                    return Response::builder()
                        .status(StatusCode::from_u16(status).unwrap())
                        .content_type(ct)
                        .body(out);
                }
                self.relay(core, status, &ct, &out)
            }
        }
    }
}
