// Optional help for the file form: choosing a file fills in its name, type and exact size.
// Every form works without this script (the fields can be typed in).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var pick = document.getElementById("f-pick");
  if (!pick) {
    return;
  }
  document.getElementById("pick-field").hidden = false;
  pick.addEventListener("change", function () {
    var file = pick.files && pick.files[0];
    if (!file) {
      return;
    }
    document.getElementById("f-file_name").value = file.name;
    document.getElementById("f-size").value = String(file.size);
    var type = document.getElementById("f-content_type");
    for (var i = 0; i < type.options.length; i += 1) {
      if (type.options[i].value === file.type) {
        type.value = file.type;
      }
    }
  });
});
