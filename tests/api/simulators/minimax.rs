//! MiniMax V1 video generation: errors in `base_resp` with HTTP 200, the three steps
//! create → query → file retrieve (a fresh, short-lived `download_url` each time).

use super::*;

pub struct MiniMaxSim {
    pub key: String,
}

fn base(code: i64, msg: &str) -> Value {
    json!({"status_code": code, "status_msg": msg})
}

fn refuse(code: i64, msg: &str) -> Response {
    ok(json!({"task_id": "", "base_resp": base(code, msg)}))
}

fn validate(b: &Value) -> Result<(), String> {
    let model = b["model"].as_str().ok_or("model is required")?;
    let hailuo = model.starts_with("MiniMax-Hailuo");
    let known = hailuo
        || [
            "T2V-01",
            "T2V-01-Director",
            "I2V-01",
            "I2V-01-Director",
            "I2V-01-live",
            "S2V-01",
        ]
        .contains(&model);
    if !known {
        return Err(format!("invalid model {model}"));
    }
    let res = b["resolution"]
        .as_str()
        .unwrap_or(if hailuo { "768P" } else { "720P" });
    let dur = b["duration"].as_i64().unwrap_or(6);
    let has_first = b.get("first_frame_image").is_some();
    let ok_res = if hailuo {
        matches!(res, "768P" | "1080P")
            || (res == "512P"
                && model == "MiniMax-Hailuo-02"
                && has_first
                && b.get("last_frame_image").is_none())
    } else {
        res == "720P"
    };
    if !ok_res {
        return Err(format!("resolution {res} is not supported by {model}"));
    }
    if !(dur == 6 || (dur == 10 && hailuo && res != "1080P")) {
        return Err(format!("duration {dur} is not supported"));
    }
    if b.get("last_frame_image").is_some() && (model != "MiniMax-Hailuo-02" || !has_first) {
        return Err("last_frame_image needs MiniMax-Hailuo-02 and a first frame".into());
    }
    if (model.starts_with("I2V") || model.ends_with("-Fast")) && !has_first {
        return Err("first_frame_image is required".into());
    }
    if model == "S2V-01"
        && b["subject_reference"]
            .as_array()
            .is_none_or(|a| a.len() != 1)
    {
        return Err("subject_reference needs one subject".into());
    }
    Ok(())
}

#[async_trait]
impl Upstream for MiniMaxSim {
    fn op(&self, req: &SimRequest) -> Op {
        match (req.method.as_str(), req.path.as_str()) {
            ("POST", "/v1/video_generation") => Op::Create,
            ("GET", "/v1/query/video_generation") => Op::Poll,
            ("GET", "/v1/files/retrieve") => Op::Retrieve,
            _ => Op::Other,
        }
    }

    fn error_body(&self, status: u16, _code: &str, message: &str) -> Value {
        let code = match status {
            429 => 1002,
            _ => 1000,
        };
        json!({"base_resp": base(code, message)})
    }

    async fn handle(&self, core: &Core, req: &SimRequest) -> Response {
        if req.bearer() != Some(self.key.as_str()) {
            return refuse(2049, "invalid api key");
        }
        let account = self.key.as_str();
        match req.op {
            Op::Create => {
                let b = req.json();
                if let Err(m) = validate(&b) {
                    return refuse(2013, &format!("invalid params, {m}"));
                }
                let prompt = b["prompt"].as_str().unwrap_or_default().to_string();
                if blocked(&prompt) {
                    return refuse(1026, "input new_sensitive");
                }
                let id = format!("1069161122120{:05}", core.next_seq());
                let model = b["model"].as_str().unwrap_or_default().to_string();
                core.create_task(&id, &model, b, &prompt, account);
                ok(json!({"task_id": id, "base_resp": base(0, "success")}))
            }
            Op::Poll => {
                let id = req.query.get("task_id").cloned().unwrap_or_default();
                let Some((stage, t)) = core.step(&id, account) else {
                    return ok(
                        json!({"task_id": id, "status": "", "file_id": "", "base_resp": base(2013, "invalid task_id")}),
                    );
                };
                let (status, file, resp) = match stage {
                    Stage::Queued if t.polls == 1 => ("Preparing", "", base(0, "success")),
                    Stage::Queued => ("Queueing", "", base(0, "success")),
                    Stage::Running => ("Processing", "", base(0, "success")),
                    Stage::Weird => ("Rendering", "", base(0, "success")),
                    Stage::Failed => ("Fail", "", base(1027, "output new_sensitive")),
                    Stage::Succeeded => ("Success", "", base(0, "success")),
                };
                let mut v =
                    json!({"task_id": t.id, "status": status, "file_id": file, "base_resp": resp});
                if stage == Stage::Succeeded {
                    v["file_id"] = json!(format!("2413426{}", &t.id[t.id.len() - 5..]));
                    v["video_width"] = json!(1366);
                    v["video_height"] = json!(768);
                }
                ok(v)
            }
            Op::Retrieve => {
                let file = req.query.get("file_id").cloned().unwrap_or_default();
                let Some(t) = core.tasks().into_iter().find(|t| {
                    t.account == account
                        && file.len() > 5
                        && t.id.ends_with(&file[file.len() - 5..])
                }) else {
                    return ok(json!({"base_resp": base(1004, "file not found")}));
                };
                // A fresh signed URL each time, valid for an hour (expired for `sim:expired`).
                let url = core.mint_file(&t, Some(3600), None);
                ok(
                    json!({"file": {"file_id": file.parse::<i64>().unwrap_or(0), "bytes": VIDEO.len(), "created_at": core.clock.now(),
                    "filename": "output.mp4", "purpose": "video_generation", "download_url": url, "backup_download_url": url},
                    "base_resp": base(0, "success")}),
                )
            }
            _ => json_response(404, json!({"base_resp": base(1000, "not found")})),
        }
    }
}
