/* Klarna (simulator) stand-in for https://x.klarnacdn.net/kp/lib/v1/api.js.
 *
 * Exposes window.Klarna.Payments.init/load/authorize like the real SDK and talks
 * to the simulator it was loaded from (document.currentScript.src):
 *   POST /kp/sim/v1/load       {client_token, payment_method_category}
 *   POST /kp/sim/v1/authorize  {client_token, payment_method_category, data}
 * Selectors: .klarna-sim-widget[data-klarna-sim-category] (the loaded widget),
 * #klarna-sim-modal with #klarna-sim-approve, #klarna-sim-decline, #klarna-sim-close.
 */
(function () {
    "use strict";
    var script = document.currentScript ||
        document.querySelector('script[src*="/kp/lib/v1/api.js"]');
    var origin = new URL(script.src, window.location.href).origin;
    var clientToken = null;

    function post(path, body) {
        return fetch(origin + path, {
            method: "POST",
            headers: {"Content-Type": "application/json"},
            body: JSON.stringify(body),
        }).then(function (response) {
            return response.json().then(function (json) {
                return {ok: response.ok, body: json};
            });
        });
    }

    // The real SDK accepts (options, callback) as well as (options, data, callback).
    function split(data, callback) {
        if (typeof data === "function") {
            return {data: null, callback: data};
        }
        return {data: data || null, callback: callback || function () {}};
    }

    function element(container) {
        return typeof container === "string" ? document.querySelector(container) : container;
    }

    function init(options) {
        if (!options || typeof options.client_token !== "string") {
            throw new Error("Klarna.Payments.init needs {client_token}");
        }
        clientToken = options.client_token;
    }

    function load(options, data, callback) {
        var args = split(data, callback);
        var category = options.payment_method_category;
        post("/kp/sim/v1/load", {client_token: clientToken, payment_method_category: category})
            .then(function (answer) {
                var target = element(options.container);
                if (!answer.ok || !answer.body.show_form || !target) {
                    args.callback({show_form: false});
                    return;
                }
                var box = document.createElement("div");
                box.className = "klarna-sim-widget";
                box.setAttribute("data-klarna-sim-category", category);
                box.style.cssText = "border:1px solid #ffb3c7;padding:12px;margin:4px 0;";
                box.textContent = "Klarna (simulator): " + answer.body.name;
                target.replaceChildren(box);
                args.callback({show_form: true});
            })
            .catch(function () {
                args.callback({show_form: false});
            });
    }

    function modal(text) {
        var overlay = document.createElement("div");
        overlay.id = "klarna-sim-modal";
        overlay.style.cssText = "position:fixed;inset:0;background:rgba(0,0,0,.5);" +
            "z-index:2147483647;display:flex;align-items:center;justify-content:center;";
        var dialog = document.createElement("div");
        dialog.style.cssText = "background:#fff;padding:24px;border-radius:8px;min-width:280px;";
        var title = document.createElement("p");
        title.textContent = text;
        dialog.appendChild(title);
        ["approve", "decline", "close"].forEach(function (name) {
            var button = document.createElement("button");
            button.type = "button";
            button.id = "klarna-sim-" + name;
            button.textContent = name.charAt(0).toUpperCase() + name.slice(1);
            button.style.margin = "4px";
            dialog.appendChild(button);
        });
        overlay.appendChild(dialog);
        document.body.appendChild(overlay);
        return overlay;
    }

    function authorize(options, data, callback) {
        var args = split(data, callback);
        var category = options.payment_method_category;
        var overlay = modal("Klarna (simulator): authorize " + category);
        function finish(result) {
            overlay.remove();
            args.callback(result);
        }
        overlay.querySelector("#klarna-sim-approve").addEventListener("click", function () {
            post("/kp/sim/v1/authorize", {
                client_token: clientToken,
                payment_method_category: category,
                data: args.data,
            }).then(function (answer) {
                if (answer.ok) {
                    finish({
                        approved: true,
                        show_form: true,
                        authorization_token: answer.body.authorization_token,
                        finalize_required: false,
                    });
                } else {
                    finish({
                        approved: false,
                        show_form: true,
                        error: {invalid_fields: answer.body.invalid_fields || []},
                    });
                }
            }).catch(function () {
                finish({approved: false, show_form: true, error: {invalid_fields: []}});
            });
        });
        overlay.querySelector("#klarna-sim-decline").addEventListener("click", function () {
            finish({approved: false, show_form: false});
        });
        overlay.querySelector("#klarna-sim-close").addEventListener("click", function () {
            finish({approved: false, show_form: true});
        });
    }

    window.Klarna = window.Klarna || {};
    window.Klarna.Payments = {init: init, load: load, authorize: authorize};
})();
