// The source document's JavaScript example, verbatim between the markers.
const VIDEOAPI_BASE = process.env.VIDEOAPI_BASE;
const VIDEOAPI_KEY = process.env.VIDEOAPI_KEY;
// --- document example ---
const response = await fetch(`${VIDEOAPI_BASE}/v1/video/generations`, {
method: "POST",
headers: {
"Authorization": `Bearer ${VIDEOAPI_KEY}`,
"Content-Type": "application/json"
},
body: JSON.stringify({
model: "video-2.0-mini-reference-to-video",
type: "image-to-video",
prompt: "让 @Image1 自然动起来,保持主体稳定",
image_urls: ["https://your-domain.com/uploads/reference.png"],
resolution: "720p",
duration: "auto",
aspect_ratio: "9:16",
generate_audio: true
})
});
const task = await response.json();
// --- end ---
console.log(JSON.stringify(task));
