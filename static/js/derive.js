// Derive page: show only the class picker of the chosen archive.
const kind = document.getElementById("id_kind");
function update() {
  document.getElementById("cifar-fields").hidden = kind.value !== "cifar10";
  document.getElementById("tiny-fields").hidden = kind.value !== "tinyimagenet";
}
kind.addEventListener("change", update);
update();
