// Dataset upload: a folder goes up in batches (Django refuses >100 files per request by
// default and drops folder names), each file with its webkitRelativePath; a zip goes up whole.
// Both upload paths answer 202 {dataset, url, rejected} with the dataset "packing": a worker
// checks and packs the images at the chosen working resolution, and the dataset page we open
// follows it (and lists every rejected file once it is done).
const form = document.getElementById("upload-form");
const folderInput = document.getElementById("folder-input");
const zipInput = document.getElementById("zip-input");
const button = document.getElementById("upload-button");
const progress = document.getElementById("upload-progress");
const statusEl = document.getElementById("upload-status");
const nameInput = document.getElementById("id_name");
const sideInput = document.getElementById("id_max_side");
const BATCH = Number(form.dataset.batchFiles) || 200;
const MAX_BATCH_BYTES = Math.max(1, Math.floor((Number(form.dataset.maxRequestBytes) || 2 ** 28) * 0.9));
const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;

function say(text) {
  statusEl.textContent = text;
}

// POST with upload progress (fetch has none); resolves to the parsed JSON body.
function post(url, body, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("X-CSRFToken", csrf);
    xhr.responseType = "json";
    if (onProgress) xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded, e.total);
    xhr.onload = () => {
      const data = xhr.response || {};
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new Error(data.error || "server said " + xhr.status));
    };
    xhr.onerror = () => reject(new Error("network error"));
    xhr.send(body);
  });
}

function datasetName(fallback) {
  return (nameInput.value || "").trim() || fallback || "dataset";
}

// Batches of at most BATCH files and MAX_BATCH_BYTES bytes.
function batches(files) {
  const out = [];
  let cur = [];
  let bytes = 0;
  for (const f of files) {
    if (cur.length && (cur.length >= BATCH || bytes + f.size > MAX_BATCH_BYTES)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(f);
    bytes += f.size;
  }
  if (cur.length) out.push(cur);
  return out;
}

async function uploadFolder(fileList) {
  const files = [...fileList].filter((f) => !f.name.startsWith("."));
  if (!files.length) throw new Error("the folder is empty");
  const top = (files[0].webkitRelativePath || "").split("/")[0];
  const name = datasetName(top);
  const body = new FormData();
  body.append("name", name);
  const start = await post(form.dataset.startUrl, body);
  const base = form.dataset.startUrl + start.upload + "/";
  const total = files.reduce((n, f) => n + f.size, 0);
  let sent = 0;
  let refused = [];
  for (const batch of batches(files)) {
    const fd = new FormData();
    const paths = [];
    for (const f of batch) {
      fd.append("files", f, f.name);
      paths.push(f.webkitRelativePath || f.name);
    }
    fd.append("paths", JSON.stringify(paths));
    const batchBytes = batch.reduce((n, f) => n + f.size, 0);
    const res = await post(base + "files/", fd, (loaded) => {
      progress.value = Math.min(95, (95 * (sent + loaded)) / Math.max(1, total));
    });
    sent += batchBytes;
    refused = refused.concat(res.refused || []);
    progress.value = Math.min(95, (95 * sent) / Math.max(1, total));
    say("Uploaded " + res.files + " of " + files.length + " files" +
      (refused.length ? " (" + refused.length + " refused)" : "") + "…");
  }
  say("Handing " + files.length + " files over for packing…");
  const fin = new FormData();
  fin.append("name", name);
  fin.append("max_side", sideInput.value);
  return post(base + "finish/", fin); // its rejected list includes the batches' refusals
}

async function uploadZip(file) {
  const fd = new FormData();
  fd.append("name", datasetName(file.name.replace(/\.zip$/i, "")));
  fd.append("max_side", sideInput.value);
  fd.append("file", file, file.name);
  say("Uploading " + file.name + "…");
  return post(form.dataset.zipUrl, fd, (loaded, total) => {
    progress.value = Math.min(95, (95 * loaded) / Math.max(1, total));
    if (loaded >= total) say("Handing " + file.name + " over for packing…");
  });
}

button.addEventListener("click", async () => {
  const folder = folderInput.files;
  const zip = zipInput.files;
  if (!(folder && folder.length) && !(zip && zip.length)) {
    say("Choose a folder or a zip first.");
    return;
  }
  button.disabled = true;
  progress.value = 0;
  try {
    const result = folder && folder.length ? await uploadFolder(folder) : await uploadZip(zip[0]);
    progress.value = 100;
    say("Uploaded. Opening the dataset, which is being packed…");
    window.location.assign(result.url);
  } catch (err) {
    say("Upload failed: " + err.message);
    button.disabled = false;
  }
});
