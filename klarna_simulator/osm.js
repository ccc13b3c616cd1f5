/* Klarna (simulator) stand-in for https://js.klarna.com/web-sdk/v1/klarna.js (On-Site Messaging).
 *
 * Loaded as <script async src=".../web-sdk/v1/klarna.js" data-client-id="..."
 * data-environment="playground|production">. Asks the simulator it came from, once,
 * GET /web-sdk/sim/v1/config?client_id=... (is the client id known; locales, keys, themes,
 * currencies), then renders every <klarna-placement data-key data-locale
 * data-purchase-amount data-theme> as text:
 *   .klarna-sim-osm[data-key][data-locale][data-theme][data-amount]  (data-amount only
 *       for the credit promotions, which show "4 × quarter (total)")
 *   .klarna-sim-error  (with the reason; also logged with console.error)
 * Re-renders when those attributes change, on Klarna.OnsiteMessaging.refresh() and on
 * KlarnaOnsiteService.push({eventName: "refresh-placements"}).
 */
(function () {
    "use strict";
    var script = document.currentScript ||
        document.querySelector('script[src*="/web-sdk/v1/klarna.js"]');
    var origin = new URL(script.src, window.location.href).origin;
    var clientId = script.getAttribute("data-client-id");
    var environment = script.getAttribute("data-environment") || "production";
    var ATTRIBUTES = ["data-key", "data-locale", "data-purchase-amount", "data-theme"];
    var config = null;
    var pending = new WeakSet();  // placements with a draw already queued

    // The answer every placement waits for: the configuration, or the reason there is none.
    function loadConfig() {
        if (!clientId) {
            return Promise.resolve({error: "data-client-id is missing on the klarna.js script"});
        }
        var url = origin + "/web-sdk/sim/v1/config?client_id=" + encodeURIComponent(clientId);
        return fetch(url).then(function (response) {
            return response.json();
        }).then(function (answer) {
            if (!answer.known) {
                return {error: (answer.error_messages || ["client id refused"]).join("; ")};
            }
            if (answer.environment !== environment) {
                console.warn("Klarna (simulator): client id " + clientId + " belongs to " +
                    answer.environment + ", the script says data-environment=" + environment);
            }
            return answer;
        }).catch(function (error) {
            return {error: "the configuration could not be loaded (" + error + ")"};
        });
    }

    function money(minor, locale, currency) {
        return new Intl.NumberFormat(locale, {style: "currency", currency: currency})
            .format(minor / 100);
    }

    // The text to show, or throws the reason the placement is refused.
    function describe(settings, key, locale, theme, amount) {
        if (settings.placement_keys.indexOf(key) < 0) {
            throw new Error("unknown data-key " + JSON.stringify(key));
        }
        if (settings.locales.indexOf(locale) < 0) {
            throw new Error("data-locale " + JSON.stringify(locale) + " is not an OSM locale");
        }
        if (settings.themes.indexOf(theme) < 0) {
            throw new Error("unknown data-theme " + JSON.stringify(theme));
        }
        if (settings.amount_keys.indexOf(key) < 0) {
            return "Klarna (simulator): pay later with Klarna";
        }
        if (!/^[0-9]+$/.test(amount || "")) {
            throw new Error("data-purchase-amount " + JSON.stringify(amount) +
                " is not a non-negative integer in minor units");
        }
        var currency = settings.currencies[locale.split("-")[1]];
        var total = parseInt(amount, 10);
        return "Klarna (simulator): 4 × " + money(Math.floor(total / 4), locale, currency) +
            " (" + money(total, locale, currency) + ")";
    }

    function showError(placement, reason) {
        var text = "Klarna (simulator): " + reason;
        console.error(text);
        var node = document.createElement("span");
        node.className = "klarna-sim-error";
        node.textContent = text;
        placement.replaceChildren(node);
    }

    function draw(placement, settings) {
        var key = placement.getAttribute("data-key");
        var locale = placement.getAttribute("data-locale");
        var theme = placement.getAttribute("data-theme") || "default";
        var amount = placement.getAttribute("data-purchase-amount");
        if (settings.error) {
            showError(placement, settings.error);
            return;
        }
        var text;
        try {
            text = describe(settings, key, locale, theme, amount);
        } catch (error) {
            showError(placement, error.message);
            return;
        }
        var node = document.createElement("span");
        node.className = "klarna-sim-osm";
        node.setAttribute("data-key", key);
        node.setAttribute("data-locale", locale);
        node.setAttribute("data-theme", theme);
        if (settings.amount_keys.indexOf(key) >= 0) {
            node.setAttribute("data-amount", String(parseInt(amount, 10)));
        }
        node.textContent = text;
        placement.replaceChildren(node);
    }

    // Draws once per burst of changes (an upgrade reports every attribute): the queued
    // draw reads the attributes as they are when it runs.
    function render(placement) {
        if (pending.has(placement)) {
            return;
        }
        pending.add(placement);
        config = config || loadConfig();
        config.then(function (settings) {
            pending.delete(placement);
            draw(placement, settings);
        });
    }

    function refresh() {
        document.querySelectorAll("klarna-placement").forEach(render);
    }

    // A custom element needs a class (ES2015); the rest stays ES5 like sdk.js.
    if (!window.customElements.get("klarna-placement")) {
        window.customElements.define("klarna-placement", class extends HTMLElement {
            static get observedAttributes() {
                return ATTRIBUTES;
            }

            connectedCallback() {
                render(this);
            }

            attributeChangedCallback() {
                if (this.isConnected) {
                    render(this);
                }
            }
        });
    }

    window.Klarna = window.Klarna || {};
    window.Klarna.OnsiteMessaging = {refresh: refresh};
    window.KlarnaOnsiteService = {
        push: function (event) {
            if (event && event.eventName === "refresh-placements") {
                refresh();
            }
        },
    };
})();
