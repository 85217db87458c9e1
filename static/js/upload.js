// Dataset upload: a folder goes up in batches (Django refuses >100 files per request by
// default and drops folder names), each file with its webkitRelativePath; a zip goes up whole.
// The server validates and packs the images at the chosen working resolution; then we open the
// dataset page, or, when files were rejected, list them here with a link to it. Both upload
// paths answer {dataset, url, rejected}.
const form = document.getElementById("upload-form");
const folderInput = document.getElementById("folder-input");
const zipInput = document.getElementById("zip-input");
const button = document.getElementById("upload-button");
const progress = document.getElementById("upload-progress");
const statusEl = document.getElementById("upload-status");
const rejectedList = document.getElementById("upload-rejected");
const nameInput = document.getElementById("id_name");
const sideInput = document.getElementById("id_max_side");
const done = document.getElementById("upload-done");
const openLink = document.getElementById("upload-open");
const BATCH = Number(form.dataset.batchFiles) || 200;
const MAX_BATCH_BYTES = Math.max(1, Math.floor((Number(form.dataset.maxRequestBytes) || 2 ** 28) * 0.9));
const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;

function say(text) {
  statusEl.textContent = text;
}

function showRejected(rows) {
  rejectedList.replaceChildren(
    ...rows.slice(0, 200).map(([path, reason]) => {
      const li = document.createElement("li");
      li.textContent = path + ": " + reason;
      return li;
    })
  );
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
  say("Checking and packing " + files.length + " images…");
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
    if (loaded >= total) say("Checking and packing images…");
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
  rejectedList.replaceChildren();
  done.hidden = true;
  try {
    const result = folder && folder.length ? await uploadFolder(folder) : await uploadZip(zip[0]);
    progress.value = 100;
    const d = result.dataset;
    const rejected = result.rejected || [];
    const resized = d.resized && d.resized.count
      ? ", " + d.resized.count + " resized to " + d.image_size + "×" + d.image_size + " px" +
        (d.resized.from ? " (most were " + d.resized.from + ")" : "")
      : "";
    const summary = "Done: " + (d.num_train + d.num_test) + " images" + resized + ", " +
      rejected.length + " rejected";
    if (rejected.length) {
      showRejected(rejected);
      openLink.href = result.url;
      done.hidden = false;
      say(summary + " (listed below).");
    } else {
      say(summary + ". Opening the dataset…");
      window.location.assign(result.url);
    }
  } catch (err) {
    say("Upload failed: " + err.message);
    button.disabled = false;
  }
});
