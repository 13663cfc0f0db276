# The source document's curl examples, with the key from $VIDEOAPI_KEY and files from $ASSETS.
set -eu
curl -s "$VIDEOAPI_BASE/v1/models" > "$OUT/models.json"
curl -s -X POST "$VIDEOAPI_BASE/api/upload" \
  -H "Authorization: Bearer $VIDEOAPI_KEY" \
  -F "files=@$ASSETS/image.png" \
  -F "files=@$ASSETS/audio.mp3" > "$OUT/upload.json"
curl -s -X POST "$VIDEOAPI_BASE/v1/video/generations" \
-H "Authorization: Bearer $VIDEOAPI_KEY" \
-H "Content-Type: application/json" \
-d '{
"model": "video-2.0-mini-reference-to-video",
"type": "image-to-video",
"prompt": "让 @Image1 中的人物自然转身,镜头缓慢推进,光影真实",
"image_urls": ["https://your-domain.com/uploads/reference.png"],
"video_urls": [],
"audio_urls": [],
"resolution": "720p",
"duration": "auto",
"aspect_ratio": "9:16",
"generate_audio": true,
"end_user_id": "customer_001"
}' > "$OUT/create.json"
