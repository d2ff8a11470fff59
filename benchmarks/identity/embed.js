// face-api 1.7.15's 128-D face descriptors for benchmarks/identity.py, on TensorFlow.js's WASM
// backend (no download at run time: the weights ship in the npm package's model/ folder).
//   node embed.js JOBS.json OUT.json
// JOBS.json: {"items": [{"id", "path" (raw RGB bytes), "height", "width", "all": bool}]}.
// "all": every face of the image (a source photo); otherwise the best one (a crop). Each face:
// its box (x, y, w, h), the detector's score and the descriptor; an image without a face: [].
'use strict';

const fs = require('fs');
const path = require('path');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

async function main() {
  const [jobsPath, outPath] = process.argv.slice(2);
  const { items } = JSON.parse(fs.readFileSync(jobsPath, 'utf8'));
  await faceapi.tf.setBackend('wasm');
  await faceapi.tf.ready();
  const models = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  await faceapi.nets.ssdMobilenetv1.loadFromDisk(models);
  await faceapi.nets.faceLandmark68Net.loadFromDisk(models);
  await faceapi.nets.faceRecognitionNet.loadFromDisk(models);
  const options = new faceapi.SsdMobilenetv1Options({ minConfidence: 0.3, maxResults: 20 });
  const out = [];
  for (const item of items) {
    const pixels = new Uint8Array(fs.readFileSync(item.path));
    const image = faceapi.tf.tensor3d(pixels, [item.height, item.width, 3], 'int32');
    const task = item.all
      ? faceapi.detectAllFaces(image, options).withFaceLandmarks().withFaceDescriptors()
      : faceapi.detectSingleFace(image, options).withFaceLandmarks().withFaceDescriptor();
    const found = await task;
    const faces = (item.all ? found : (found ? [found] : [])).map((f) => ({
      box: [f.detection.box.x, f.detection.box.y, f.detection.box.width, f.detection.box.height],
      score: f.detection.score,
      descriptor: Array.from(f.descriptor),
    }));
    image.dispose();
    out.push({ id: item.id, faces });
  }
  fs.writeFileSync(outPath, JSON.stringify({ backend: faceapi.tf.getBackend(), version: faceapi.version, results: out }));
}

main().catch((err) => { console.error(err); process.exit(1); });
