/* Klarna (simulator) stand-in for https://x.klarnacdn.net/kp/lib/v1/api.js.
 *
 * Exposes window.Klarna.Payments.init/load/authorize/finalize and, for Express
 * Checkout, Klarna.Payments.Buttons.init({client_id}).load(options, callback), like
 * the real SDK, and talks to the simulator it was loaded from (document.currentScript.src):
 *   POST /kp/sim/v1/load       {client_token, payment_method_category}
 *   POST /kp/sim/v1/authorize  {client_token, payment_method_category, data}
 *   GET  /web-sdk/sim/v1/config?client_id=...  (is the client id known; button styles)
 *   POST /kp/sim/v1/express/authorize  {client_id, options, payload, address}
 *   POST /kp/sim/v1/finalize   {client_token, data, confirm}
 * Selectors: .klarna-sim-widget[data-klarna-sim-category] (the loaded widget),
 * button.klarna-sim-express-button[data-theme][data-shape][data-locale],
 * #klarna-sim-modal with #klarna-sim-approve, #klarna-sim-decline, #klarna-sim-close
 * and, for Express Checkout, select#klarna-sim-address (default | changed).
 */
(function () {
    "use strict";
    var script = document.currentScript ||
        document.querySelector('script[src*="/kp/lib/v1/api.js"]');
    var origin = new URL(script.src, window.location.href).origin;
    var clientToken = null;

    function answer(response) {
        return response.json().then(function (json) {
            return {ok: response.ok, status: response.status, body: json};
        });
    }

    function post(path, body) {
        return fetch(origin + path, {
            method: "POST",
            headers: {"Content-Type": "application/json"},
            body: JSON.stringify(body),
        }).then(answer);
    }

    // What a refused call gives the callback: a cart Klarna rejects keeps the form open.
    function refused(reply) {
        var body = reply.body || {};
        return {
            approved: false,
            show_form: reply.status === 400,
            error: {
                invalid_fields: body.invalid_fields || [],
                message: (body.error_messages || ["Klarna (simulator) is unreachable"]).join("; "),
            },
        };
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

    function modal(text, extra) {
        var overlay = document.createElement("div");
        overlay.id = "klarna-sim-modal";
        overlay.style.cssText = "position:fixed;inset:0;background:rgba(0,0,0,.5);" +
            "z-index:2147483647;display:flex;align-items:center;justify-content:center;";
        var dialog = document.createElement("div");
        dialog.style.cssText = "background:#fff;padding:24px;border-radius:8px;min-width:280px;";
        var title = document.createElement("p");
        title.textContent = text;
        dialog.appendChild(title);
        if (extra) {
            dialog.appendChild(extra);
        }
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

    // The pop-up: Approve runs approve(finish), Decline and Close answer as Klarna's do.
    function ask(text, extra, approve, callback) {
        var overlay = modal(text, extra);
        function finish(result) {
            overlay.remove();
            callback(result);
        }
        function on(name, handler) {
            overlay.querySelector("#klarna-sim-" + name).addEventListener("click", handler);
        }
        on("approve", function (event) {
            event.target.disabled = true;  // one approval per pop-up, however often clicked
            approve(finish);
        });
        on("decline", function () {
            finish({approved: false, show_form: false});
        });
        on("close", function () {
            finish({approved: false, show_form: true});
        });
    }

    function failed() {
        return {approved: false, show_form: true, error: {invalid_fields: []}};
    }

    function authorize(options, data, callback) {
        var args = split(data, callback);
        var category = options.payment_method_category;
        ask("Klarna (simulator): authorize " + category, null, function (finish) {
            post("/kp/sim/v1/authorize", {
                client_token: clientToken,
                payment_method_category: category,
                data: args.data,
            }).then(function (reply) {
                if (reply.ok) {
                    finish({
                        approved: true,
                        show_form: true,
                        authorization_token: reply.body.authorization_token,
                        finalize_required: false,
                    });
                } else {
                    finish({
                        approved: false,
                        show_form: true,
                        error: {invalid_fields: reply.body.invalid_fields || []},
                    });
                }
            }).catch(function () {
                finish(failed());
            });
        }, args.callback);
    }

    function finalize(options, data, callback) {
        var args = split(data, callback);
        sendFinalize(args.data, false, args.callback);
    }

    // A new total needs the shopper again: the pop-up returns, and Approve confirms it.
    function sendFinalize(data, confirm, callback) {
        post("/kp/sim/v1/finalize", {client_token: clientToken, data: data, confirm: confirm})
            .then(function (reply) {
                if (!reply.ok) {
                    callback(refused(reply));
                } else if (reply.body.reauthorize_required) {
                    var total = (reply.body.order_amount / 100).toFixed(2) + " " +
                        reply.body.purchase_currency;
                    ask("Klarna (simulator): confirm the new total " + total, null,
                        function (finish) {
                            sendFinalize(data, true, finish);
                        }, callback);
                } else {
                    callback({
                        approved: true,
                        show_form: true,
                        authorization_token: reply.body.authorization_token,
                    });
                }
            })
            .catch(function () {
                callback(failed());
            });
    }

    function addressChoice() {
        var select = document.createElement("select");
        select.id = "klarna-sim-address";
        [["default", "Default address"], ["changed", "Another address"]].forEach(function (pair) {
            var option = document.createElement("option");
            option.value = pair[0];
            option.textContent = pair[1];
            select.appendChild(option);
        });
        return select;
    }

    // Express Checkout's authorize, handed to on_click: the payload is the cart.
    function expressAuthorize(clientId, options, payload, callback) {
        var args = split(payload, callback);
        var select = addressChoice();
        ask("Klarna (simulator): Express checkout", select, function (finish) {
            post("/kp/sim/v1/express/authorize", {
                client_id: clientId,
                options: options || {},
                payload: args.data,
                address: select.value,
            }).then(function (reply) {
                finish(reply.ok ? reply.body : refused(reply));
            }).catch(function () {
                finish(failed());
            });
        }, args.callback);
    }

    function config(clientId) {
        var url = origin + "/web-sdk/sim/v1/config?client_id=" +
            encodeURIComponent(clientId || "");
        return fetch(url).then(answer);
    }

    // The reason a button cannot load, or null.
    function buttonProblem(settings, options, theme, shape) {
        if (!settings.known) {
            return (settings.error_messages || ["client id refused"]).join("; ");
        }
        if (!element(options.container)) {
            return "container " + options.container + " not found";
        }
        if (typeof options.on_click !== "function") {
            return "on_click must be a function";
        }
        if (settings.button_themes.indexOf(theme) < 0) {
            return "unknown theme " + JSON.stringify(theme);
        }
        if (settings.button_shapes.indexOf(shape) < 0) {
            return "unknown shape " + JSON.stringify(shape);
        }
        return null;
    }

    function loadButton(clientId, options, callback) {
        var done = callback || function () {};
        options = options || {};
        var theme = options.theme || "default";
        var shape = options.shape || "default";
        function fail(message) {
            console.error("Klarna (simulator): express button: " + message);
            done({show_button: false, error: {message: message}});
        }
        config(clientId).then(function (reply) {
            var problem = buttonProblem(reply.body, options, theme, shape);
            if (problem) {
                fail(problem);
                return;
            }
            var button = document.createElement("button");
            button.type = "button";
            button.className = "klarna-sim-express-button";
            button.setAttribute("data-theme", theme);
            button.setAttribute("data-shape", shape);
            button.setAttribute("data-locale", options.locale || "");
            button.textContent = "Klarna (simulator): Express checkout";
            button.addEventListener("click", function () {
                options.on_click(function (authorizeOptions, payload, authorizeCallback) {
                    expressAuthorize(clientId, authorizeOptions, payload, authorizeCallback);
                });
            });
            element(options.container).replaceChildren(button);
            done({show_button: true});
        }).catch(function (error) {
            fail("the configuration could not be loaded (" + error + ")");
        });
    }

    var Buttons = {
        init: function (options) {
            var clientId = options && options.client_id;
            return {
                load: function (loadOptions, callback) {
                    loadButton(clientId, loadOptions, callback);
                },
            };
        },
    };

    window.Klarna = window.Klarna || {};
    window.Klarna.Payments = {
        init: init,
        load: load,
        authorize: authorize,
        finalize: finalize,
        Buttons: Buttons,
    };
})();
