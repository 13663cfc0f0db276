# The source document's Python example, verbatim between the markers.
import json
import os

VIDEOAPI_BASE = os.environ["VIDEOAPI_BASE"]
VIDEOAPI_KEY = os.environ["VIDEOAPI_KEY"]
# --- document example ---
import requests
response = requests.post(
f"{VIDEOAPI_BASE}/v1/video/generations",
headers={
"Authorization": f"Bearer {VIDEOAPI_KEY}",
"Content-Type": "application/json",
},
json={
"model": "video-2.0-mini-reference-to-video",
"type": "image-to-video",
"prompt": "让 @Image1 自然动起来,保持主体稳定",
"image_urls": ["https://your-domain.com/uploads/reference.png"],
"resolution": "720p",
"duration": "auto",
"aspect_ratio": "9:16",
"generate_audio": True,
},
timeout=30,
)
task = response.json()
# --- end ---
print(json.dumps(task))
