//! fal's queue: `POST /{owner}/{app}[/{path}]` submits, `/{owner}/{app}/requests/{id}/status`
//! (202 until done, then 200 COMPLETED), `/{owner}/{app}/requests/{id}` (the result),
//! `PUT .../cancel`; `Authorization: Key …`.
//!
//! Each model has a small input schema (unknown or mistyped inputs are a 422 with a
//! pydantic-style `detail[]`), so a wrong route mapping shows up as it would on fal.
//! Scripts: `sim:fail` → COMPLETED whose result is a 422 `content_policy_violation`;
//! `sim:crash` → COMPLETED whose result is a 500 with `error_type`; `sim:block` → a 422
//! at submit.

use super::*;

pub struct Fal {
    pub keys: Vec<String>,
}

impl Fal {
    pub fn new(key: &str) -> Fal {
        Fal {
            keys: vec![key.to_string()],
        }
    }
}

/// What a model's input schema allows: `(field, kind)` with kind `str`, `url`, `urls`,
/// `bool`, or `enum:a|b|c`; `required` fields must be present.
struct Schema {
    fields: &'static [(&'static str, &'static str)],
    required: &'static [&'static str],
}

fn schema(model: &str) -> Option<Schema> {
    Some(match model {
        "fal-ai/ltx-video" => Schema {
            fields: &[("prompt", "str"), ("negative_prompt", "str")],
            required: &["prompt"],
        },
        "fal-ai/veo3" => Schema {
            fields: &[
                ("prompt", "str"),
                ("aspect_ratio", "enum:16:9|9:16"),
                ("duration", "enum:4s|6s|8s"),
                ("resolution", "enum:720p|1080p"),
                ("generate_audio", "bool"),
                ("enhance_prompt", "bool"),
            ],
            required: &["prompt"],
        },
        "fal-ai/veo3/image-to-video" => Schema {
            fields: &[
                ("prompt", "str"),
                ("image_url", "url"),
                ("aspect_ratio", "enum:auto|16:9|9:16"),
                ("duration", "enum:8s"),
                ("resolution", "enum:720p|1080p"),
                ("generate_audio", "bool"),
            ],
            required: &["prompt", "image_url"],
        },
        "fal-ai/kling-video/o1/reference-to-video" => Schema {
            fields: &[
                ("prompt", "str"),
                ("image_urls", "urls"),
                ("duration", "enum:5|10"),
                ("aspect_ratio", "enum:16:9|9:16|1:1"),
            ],
            required: &["prompt", "image_urls"],
        },
        _ => return None,
    })
}

fn detail(field: &str, msg: &str, kind: &str) -> Value {
    json!({"detail": [{"loc": ["body", field], "msg": msg, "type": kind}]})
}

fn validate(model: &str, body: &Value) -> Result<(), Value> {
    let s = schema(model).ok_or_else(|| json!({"detail": "Application not found"}))?;
    let obj = body
        .as_object()
        .ok_or_else(|| detail("body", "must be an object", "type_error"))?;
    for r in s.required {
        if !obj.contains_key(*r) {
            return Err(detail(r, "field required", "value_error.missing"));
        }
    }
    for (k, v) in obj {
        let Some((_, kind)) = s.fields.iter().find(|(f, _)| f == k) else {
            return Err(detail(k, "extra fields not permitted", "value_error.extra"));
        };
        let ok = match *kind {
            "str" => v.is_string(),
            "bool" => v.is_boolean(),
            "url" => v.as_str().is_some_and(|u| u.starts_with("http")),
            "urls" => v.as_array().is_some_and(|l| {
                !l.is_empty()
                    && l.len() <= 7
                    && l.iter()
                        .all(|u| u.as_str().is_some_and(|u| u.starts_with("http")))
            }),
            e => {
                let allowed: Vec<&str> = e.trim_start_matches("enum:").split('|').collect();
                v.as_str().is_some_and(|s| allowed.contains(&s))
            }
        };
        if !ok {
            return Err(detail(
                k,
                &format!("unexpected value; permitted: {kind}"),
                "value_error",
            ));
        }
    }
    Ok(())
}

/// `/{owner}/{app}/requests/{id}[/status|/cancel]` → `(app, id, tail)`.
fn request_parts(path: &str) -> Option<(String, String, String)> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if segs.len() >= 4 && segs[2] == "requests" {
        Some((
            format!("{}/{}", segs[0], segs[1]),
            segs[3].to_string(),
            segs[4..].join("/"),
        ))
    } else {
        None
    }
}

fn urls(core: &Core, app: &str, id: &str) -> Value {
    let base = format!("{}/{app}/requests/{id}", core.base());
    json!({"response_url": base, "status_url": format!("{base}/status"), "cancel_url": format!("{base}/cancel")})
}

#[async_trait]
impl Upstream for Fal {
    fn op(&self, req: &SimRequest) -> Op {
        match (req.method.as_str(), request_parts(&req.path)) {
            ("POST", None) => Op::Create,
            ("GET", Some((_, _, tail))) if tail == "status" => Op::Poll,
            ("GET", Some((_, _, tail))) if tail.is_empty() => Op::Retrieve,
            _ => Op::Other,
        }
    }

    fn error_body(&self, _status: u16, code: &str, message: &str) -> Value {
        json!({"detail": message, "error_type": code})
    }

    // fal's webhook envelope: OK with the model's output, or ERROR with its error body.
    fn callback(&self, core: &Core, stage: Stage, t: &SimTask) -> Option<(String, Value)> {
        let url = t.extra["webhook"].as_str()?.to_string();
        let mut v = json!({"request_id": t.id, "gateway_request_id": t.id});
        if stage == Stage::Failed {
            v["status"] = json!("ERROR");
            v["error"] = json!("Invalid status code: 422");
            v["payload"] = detail(
                "prompt",
                "Output video flagged by the safety checker",
                "content_policy_violation",
            );
        } else {
            v["status"] = json!("OK");
            v["error"] = Value::Null;
            v["payload"] = json!({"video": {"url": core.mint_file(t, None, None), "content_type": "video/mp4"}});
        }
        Some((url, v))
    }

    async fn handle(&self, core: &Core, req: &SimRequest) -> Response {
        let Some(account) = req
            .header("authorization")
            .and_then(|h| h.strip_prefix("Key "))
            .filter(|k| self.keys.iter().any(|x| x == k))
            .map(str::to_string)
        else {
            return json_response(401, json!({"detail": "Unauthorized"}));
        };
        match req.op {
            Op::Create => {
                let model = req.path.trim_start_matches('/').to_string();
                let body = req.json();
                if let Err(e) = validate(&model, &body) {
                    let status = if e["detail"].is_string() { 404 } else { 422 };
                    return json_response(status, e);
                }
                let prompt = body["prompt"].as_str().unwrap_or_default().to_string();
                if blocked(&prompt) {
                    return json_response(
                        422,
                        detail(
                            "prompt",
                            "The content could not be processed because it contained material flagged by a content checker.",
                            "content_policy_violation",
                        ),
                    );
                }
                let n = core.next_seq();
                let id = format!("80e732af-660e-45cd-bd63-{n:012}");
                let segs: Vec<&str> = model.split('/').collect();
                let app = format!("{}/{}", segs[0], segs[1]);
                core.create_task(&id, &model, body, &prompt, &account);
                if let Some(hook) = req.query.get("fal_webhook") {
                    core.update_task(&id, |x| x.extra["webhook"] = json!(hook));
                }
                let mut v = urls(core, &app, &id);
                v["request_id"] = json!(id);
                v["gateway_request_id"] = json!(id);
                v["status"] = json!("IN_QUEUE");
                v["queue_position"] = json!(0);
                ok(v)
            }
            Op::Poll => {
                let (app, id, _) = request_parts(&req.path).unwrap();
                if core
                    .task(&id)
                    .is_none_or(|t| !t.model.starts_with(&format!("{app}/")) && t.model != app)
                {
                    return json_response(404, json!({"detail": "Request not found"}));
                }
                let Some((stage, t)) = core.step(&id, &account) else {
                    return json_response(404, json!({"detail": "Request not found"}));
                };
                let mut v = urls(core, &app, &id);
                let logs = req.query.get("logs").map(String::as_str) == Some("1");
                let code = match stage {
                    Stage::Queued => {
                        v["status"] = json!("IN_QUEUE");
                        v["queue_position"] = json!(3u32.saturating_sub(t.polls));
                        202
                    }
                    Stage::Running => {
                        v["status"] = json!("IN_PROGRESS");
                        v["logs"] = if logs {
                            json!([{"message": "Generating...", "level": "INFO"}])
                        } else {
                            Value::Null
                        };
                        202
                    }
                    Stage::Weird => {
                        v["status"] = json!("IN_REVIEW");
                        202
                    }
                    Stage::Failed | Stage::Succeeded => {
                        core.update_task(&id, |x| x.extra["done"] = json!(true));
                        v["status"] = json!("COMPLETED");
                        v["logs"] = Value::Null;
                        v["metrics"] = json!({"inference_time": 41.2});
                        200
                    }
                };
                json_response(code, v)
            }
            Op::Retrieve => {
                let (_, id, _) = request_parts(&req.path).unwrap();
                let Some(t) = core.task(&id).filter(|t| t.account == account) else {
                    return json_response(404, json!({"detail": "Request not found"}));
                };
                if t.extra["done"] != true {
                    return json_response(400, json!({"detail": "Request is still in progress"}));
                }
                if t.outcome == Outcome::Fail {
                    return json_response(
                        422,
                        detail(
                            "prompt",
                            "Output video flagged by the safety checker",
                            "content_policy_violation",
                        ),
                    );
                }
                if t.request["prompt"]
                    .as_str()
                    .is_some_and(|p| p.contains("sim:crash"))
                {
                    let mut r = json_response(
                        500,
                        json!({"detail": "Model crashed while generating", "error_type": "internal_server_error"}),
                    );
                    r.headers_mut()
                        .insert("x-fal-error-type", "internal_server_error".parse().unwrap());
                    return r;
                }
                let url = match t.extra["video_url"].as_str() {
                    Some(u) => u.to_string(),
                    None => {
                        let u = core.mint_file(&t, None, None);
                        core.update_task(&id, |x| x.extra["video_url"] = json!(u));
                        u
                    }
                };
                ok(
                    json!({"video": {"url": url, "content_type": "video/mp4", "file_name": "output.mp4", "file_size": VIDEO.len()}, "seed": 196619188}),
                )
            }
            _ if req.method == "PUT" => {
                let Some((_, id, _)) = request_parts(&req.path).filter(|(_, _, t)| t == "cancel")
                else {
                    return json_response(405, json!({"detail": "Method Not Allowed"}));
                };
                let Some(t) = core.task(&id).filter(|t| t.account == account) else {
                    return json_response(404, json!({"status": "NOT_FOUND"}));
                };
                if t.extra["done"] == true {
                    return json_response(400, json!({"status": "ALREADY_COMPLETED"}));
                }
                core.update_task(&id, |x| x.extra["cancelled"] = json!(true));
                json_response(202, json!({"status": "CANCELLATION_REQUESTED"}))
            }
            _ => json_response(404, json!({"detail": "Not Found"})),
        }
    }
}
