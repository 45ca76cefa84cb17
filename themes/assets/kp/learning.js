/*
 * Knowledge Pay: a signed-in member's learning on course pages and lessons, from the
 * paywall (GET /api/learning), never from the built pages: lessons done get ✓, the course
 * page a progress bar and "continue", a dripped lesson its opening date (in the lesson list,
 * and in place of the paywall box of its teaser), the foot of a lesson its "mark as done"
 * (POST /api/progress) and the member's groups of this course. On a static host without
 * the paywall, /api/learning does not exist and nothing changes.
 */
(function () {
  "use strict";
  if (!window.fetch) {
    return;
  }
  var path = location.pathname.replace(/index\.html$/, "");

  function each(selector, fn) {
    Array.prototype.forEach.call(document.querySelectorAll(selector), fn);
  }

  function showLessons(state) {
    each("[data-kp-lesson]", function (node) {
      if (node.hasAttribute("data-kp-lesson-end")) {
        return;
      }
      var lesson = state.lessons[node.getAttribute("data-kp-lesson")];
      if (!lesson) {
        return;
      }
      var done = node.querySelector("[data-kp-done]");
      if (done) {
        done.hidden = !lesson.done;
      }
      node.classList.toggle("kp-done", !!lesson.done);
      var drip = node.querySelector("[data-kp-drip]");
      if (drip && lesson.opens_on) {
        drip.textContent = lesson.opens_on;
        node.classList.add("kp-not-yet");
      }
    });
  }

  function showCourse(state) {
    each("[data-kp-progress]", function (box) {
      var course = state.courses[box.getAttribute("data-kp-progress")];
      if (!course) {
        return;
      }
      var bar = box.querySelector("progress");
      bar.max = course.total;
      bar.value = course.done;
      box.querySelector("[data-kp-progress-label]").textContent = course.label;
      var next = box.querySelector("[data-kp-continue]");
      if (course.certificate) {
        next.href = course.certificate;
        next.textContent = "🎓 " + course.certificate_text;
        next.hidden = false;
      } else if (course.next_url && course.done) {
        next.href = course.next_url;
        next.textContent = course.next_text + " →";
        next.hidden = false;
      }
      box.hidden = false;
    });
  }

  function showNotYet(state) {
    var lesson = state.lessons[path];
    if (!lesson || !lesson.opens_text) {
      return;
    }
    each(".kp-paywall", function (box) {
      box.classList.add("kp-paywall--not-yet");
      box.innerHTML = "";
      var p = document.createElement("p");
      p.className = "kp-paywall__title kp-opens-on";
      p.textContent = lesson.opens_text;
      box.appendChild(p);
    });
  }

  function markDone(end, label) {
    var button = end.querySelector("[data-kp-mark-done]");
    button.textContent = label;
    button.disabled = true;
    end.classList.add("kp-done");
  }

  function showLessonEnd(state) {
    each("[data-kp-lesson-end]", function (end) {
      var url = end.getAttribute("data-kp-lesson");
      var lesson = state.lessons[url];
      if (!lesson || lesson.opens_on) {
        return;
      }
      end.hidden = false;
      var label = end.getAttribute("data-kp-done-label");
      if (lesson.done) {
        markDone(end, label);
      }
      var form = end.querySelector("form");
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        fetch("/api/progress", {
          method: "POST",
          credentials: "same-origin",
          headers: { Accept: "application/json", "Content-Type": "application/json" },
          body: JSON.stringify({ lesson: url })
        }).then(function (response) {
          if (response.ok) {
            markDone(end, label);
          } else {
            form.submit();
          }
        });
      });
      var box = end.querySelector("[data-kp-groups]");
      if (box && state.groups.length) {
        var title = document.createElement("p");
        title.className = "kp-groups__title";
        title.textContent = box.getAttribute("data-kp-groups-title");
        box.appendChild(title);
        state.groups.forEach(function (group) {
          var item = document.createElement("p");
          item.className = "kp-group";
          item.setAttribute("data-kp-group", group.name);
          var a = document.createElement("a");
          a.className = "md-button";
          a.href = group.url;
          a.rel = "noopener";
          a.textContent = group.join;
          item.appendChild(a);
          if (group.qr) {
            var img = document.createElement("img");
            img.className = "kp-group__qr";
            img.src = group.qr;
            img.alt = group.title;
            img.width = 160;
            img.height = 160;
            item.appendChild(img);
          }
          box.appendChild(item);
        });
        box.hidden = false;
      }
    });
  }

  fetch("/api/learning?page=" + encodeURIComponent(path), {
    credentials: "same-origin",
    headers: { Accept: "application/json" }
  })
    .then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      return response.ok && type.indexOf("json") >= 0 ? response.json() : null;
    })
    .then(function (state) {
      if (!state || !state.authenticated) {
        return;
      }
      showLessons(state);
      showCourse(state);
      showNotYet(state);
      showLessonEnd(state);
      document.documentElement.setAttribute("data-kp-learning", "ready");
    })
    .catch(function () { /* no paywall here: stay a static page */ });
})();
