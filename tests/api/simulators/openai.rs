//! The OpenAI Videos shape (`/v1/videos`): multipart or JSON creates, `seconds` as a
//! string, Video objects with progress, `/content` that needs the key and expires.

use super::*;

pub struct OpenAiSim {
    pub key: String,
    /// Every create as parsed: its fields, and `input_reference` as
    /// `{file_name, content_type, size}` (multipart) or `{image_url}` (JSON).
    pub creates: Mutex<Vec<Value>>,
}

impl OpenAiSim {
    pub fn new(key: &str) -> OpenAiSim {
        OpenAiSim {
            key: key.to_string(),
            creates: Mutex::default(),
        }
    }

    pub fn creates(&self) -> Vec<Value> {
        self.creates.lock().unwrap().clone()
    }
}

fn refuse(status: u16, code: &str, message: &str, param: Option<&str>) -> Response {
    json_response(
        status,
        json!({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}),
    )
}

/// The create form as JSON, from multipart or JSON.
async fn parse_form(req: &SimRequest) -> Result<Value, String> {
    let ct = req.header("content-type").unwrap_or_default().to_string();
    if ct.starts_with("application/json") {
        let mut v = req.json();
        v["_format"] = json!("json");
        return Ok(v);
    }
    let boundary =
        multer::parse_boundary(&ct).map_err(|_| "expected multipart/form-data or JSON")?;
    let body = req.body.clone();
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut mp = multer::Multipart::new(stream, boundary);
    let mut out = json!({"_format": "multipart"});
    while let Some(field) = mp.next_field().await.map_err(|e| e.to_string())? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "input_reference" {
            let file_name = field.file_name().map(str::to_string);
            let content_type = field.content_type().map(|m| m.to_string());
            let bytes = field.bytes().await.map_err(|e| e.to_string())?;
            out[name] =
                json!({"file_name": file_name, "content_type": content_type, "size": bytes.len()});
        } else {
            out[name] = json!(field.text().await.map_err(|e| e.to_string())?);
        }
    }
    Ok(out)
}

fn validate(f: &Value) -> Result<(), (String, &'static str)> {
    let model = f["model"].as_str().unwrap_or("sora-2");
    if f["prompt"].as_str().is_none_or(str::is_empty) {
        return Err(("prompt is required".into(), "prompt"));
    }
    if let Some(s) = f.get("seconds") {
        match s.as_str() {
            Some("4" | "8" | "12") => {}
            Some(_) => return Err(("Invalid value for 'seconds'".into(), "seconds")),
            None => {
                return Err((
                    format!("Invalid type for 'seconds': expected a string, got {s}"),
                    "seconds",
                ));
            }
        }
    }
    if let Some(size) = f.get("size") {
        let pro = model.contains("pro");
        match size.as_str() {
            Some("720x1280" | "1280x720") => {}
            Some("1024x1792" | "1792x1024") if pro => {}
            _ => return Err(("Invalid value for 'size'".into(), "size")),
        }
    }
    if let Some(r) = f.get("input_reference") {
        let ok = r["image_url"].as_str().is_some()
            || r["content_type"]
                .as_str()
                .is_some_and(|c| c.starts_with("image/"))
                && r["size"].as_u64() > Some(0);
        if !ok {
            return Err(("input_reference must be an image".into(), "input_reference"));
        }
    }
    Ok(())
}

fn video_object(t: &SimTask, status: &str, progress: u32) -> Value {
    let mut v = json!({"id": t.id, "object": "video", "model": t.model, "status": status, "progress": progress,
        "created_at": t.created_at, "completed_at": null, "expires_at": null, "prompt": t.request["prompt"],
        "size": t.request.get("size").cloned().unwrap_or(json!("720x1280")), "seconds": t.request.get("seconds").cloned().unwrap_or(json!("4")),
        "remixed_from_video_id": null, "error": null});
    // A finished video reports the length made, when the test says it differs.
    if let Some(n) = super::made_seconds(&t.request).filter(|_| status == "completed") {
        v["seconds"] = json!(n.to_string());
    }
    v
}

#[async_trait]
impl Upstream for OpenAiSim {
    fn op(&self, req: &SimRequest) -> Op {
        let segs = req.segments();
        match (req.method.as_str(), segs.as_slice()) {
            ("POST", ["v1", "videos"]) => Op::Create,
            ("GET", ["v1", "videos"]) => Op::List,
            ("GET", ["v1", "videos", _]) => Op::Poll,
            ("GET", ["v1", "videos", _, "content"]) => Op::Download,
            _ => Op::Other,
        }
    }

    fn error_body(&self, status: u16, code: &str, message: &str) -> Value {
        let kind = if status == 429 {
            "requests"
        } else if status >= 500 {
            "server_error"
        } else {
            "invalid_request_error"
        };
        json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
    }

    async fn handle(&self, core: &Core, req: &SimRequest) -> Response {
        if req.bearer() != Some(self.key.as_str()) {
            return json_response(
                401,
                json!({"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}),
            );
        }
        let account = self.key.as_str();
        let segs = req.segments();
        match req.op {
            Op::Create => {
                let form = match parse_form(req).await {
                    Ok(f) => f,
                    Err(m) => return refuse(400, "invalid_request", &m, None),
                };
                self.creates.lock().unwrap().push(form.clone());
                if let Err((m, param)) = validate(&form) {
                    return refuse(400, "invalid_value", &m, Some(param));
                }
                let prompt = form["prompt"].as_str().unwrap_or_default().to_string();
                if blocked(&prompt) {
                    return refuse(
                        400,
                        "moderation_blocked",
                        "Your request was blocked by our moderation system.",
                        None,
                    );
                }
                let id = format!("video_68d7{:08x}", core.next_seq());
                let model = form["model"].as_str().unwrap_or("sora-2").to_string();
                let t = core.create_task(&id, &model, form, &prompt, account);
                ok(video_object(&t, "queued", 0))
            }
            Op::List => ok(
                json!({"object": "list", "data": [], "first_id": null, "last_id": null, "has_more": false}),
            ),
            Op::Poll => {
                let Some((stage, t)) = core.step(segs[2], account) else {
                    return refuse(404, "not_found", "Video not found", None);
                };
                let v = match stage {
                    Stage::Queued => video_object(&t, "queued", 0),
                    Stage::Running => video_object(&t, "in_progress", 42),
                    Stage::Weird => video_object(&t, "moderating", 99),
                    Stage::Failed => {
                        let mut v = video_object(&t, "failed", 0);
                        v["error"] = json!({"code": "video_generation_failed", "message": "The video could not be generated."});
                        v
                    }
                    Stage::Succeeded => {
                        let done = t
                            .extra
                            .get("completed_at")
                            .and_then(Value::as_i64)
                            .unwrap_or_else(|| {
                                let now = core.clock.now();
                                let done = if t.outcome == Outcome::Expired {
                                    now - 7200
                                } else {
                                    now
                                };
                                core.update_task(&t.id, |x| {
                                    x.extra = json!({"completed_at": done})
                                });
                                done
                            });
                        let mut v = video_object(&t, "completed", 100);
                        v["completed_at"] = json!(done);
                        v["expires_at"] = json!(done + 3600);
                        v
                    }
                };
                let mut r = ok(v);
                r.headers_mut()
                    .insert("openai-poll-after-ms", "1000".parse().unwrap());
                r
            }
            Op::Download => {
                let Some(t) = core.task(segs[2]).filter(|t| t.account == account) else {
                    return refuse(404, "not_found", "Video not found", None);
                };
                let Some(done) = t.extra.get("completed_at").and_then(Value::as_i64) else {
                    return refuse(400, "video_not_ready", "Video is not ready yet", None);
                };
                if core.clock.now() > done + 3600 {
                    return refuse(404, "video_expired", "Video content has expired", None);
                }
                match super::made_seconds(&t.request) {
                    Some(n) => super::video_lasting(n),
                    None => video(),
                }
            }
            _ => refuse(404, "not_found", "Unknown path", None),
        }
    }
}
