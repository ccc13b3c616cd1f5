import { registry } from "@web/core/registry";
import * as tourUtils from "@website_sale/js/tours/tour_utils";
import { tourSeries } from "@payment_klarna/../tests/tours/tour_series";

// Klarna On-Site Messaging against the simulator's stand-in library, which renders each
// placement as `.klarna-sim-osm[data-amount]` (minor units) with a text built from it.

function placementShows(selector, minorAmount, text) {
    return {
        content: `The placement shows ${text}`,
        trigger:
            `klarna-placement${selector}[data-purchase-amount="${minorAmount}"] ` +
            `.klarna-sim-osm[data-amount="${minorAmount}"]:contains("${text}")`,
    };
}

function openTheLamp() {
    return [
        ...tourUtils.searchProduct("Klarna OSM Lamp"),
        {
            content: "Open the lamp",
            trigger: 'a:contains("Klarna OSM Lamp")',
            run: "click",
            ...tourSeries().leavesPage,
        },
    ];
}

function goTo(url) {
    return {
        content: `Go to ${url}`,
        trigger: "body",
        run() {
            window.location.href = url;
        },
        ...tourSeries().leavesPage,
    };
}

registry.category("web_tour.tours").add("klarna_osm_product", {
    steps: () => [
        ...openTheLamp(),
        placementShows(".o_klarna_osm_product", 1250, "$12.50"),
        {
            content: "The Web SDK is loaded once, asynchronously",
            trigger:
                'script[async][src*="/web-sdk/v1/klarna.js"][data-environment="playground"]' +
                ":not(:visible)",
            run() {
                if (document.querySelectorAll('script[src*="klarna.js"]').length !== 1) {
                    throw new Error("the Klarna script is on the page more than once");
                }
            },
        },
        {
            content: "Choose the large lamp",
            trigger: "select.js_variant_change",
            run() {
                const options = [...this.anchor.options];
                this.anchor.value = options.find((o) => o.textContent.includes("Large")).value;
                this.anchor.dispatchEvent(new Event("change", { bubbles: true }));
            },
        },
        placementShows(".o_klarna_osm_product", 2250, "$22.50"),
        {
            content: "Take three (typed in, then the field is left)",
            trigger: "#product_detail form input[name=add_qty]",
            run() {
                this.anchor.value = "3";
                this.anchor.dispatchEvent(new Event("change", { bubbles: true }));
            },
        },
        placementShows(".o_klarna_osm_product", 6750, "$67.50"),
        {
            // The page weight the messaging adds: the Klarna script and what it loads, from
            // the resource timings, or their Content-Length where the browser hides sizes
            // of another origin (no Timing-Allow-Origin). The test reads the logged figure.
            content: "Measure what the Klarna library adds to the page",
            trigger: "klarna-placement .klarna-sim-osm",
            async run() {
                const script = document.querySelector('script[src*="/web-sdk/v1/klarna.js"]');
                const origin = new URL(script.src).origin;
                const entries = performance
                    .getEntriesByType("resource")
                    .filter((entry) => entry.name.startsWith(origin));
                let bytes = 0;
                for (const entry of entries) {
                    let size = entry.encodedBodySize || entry.transferSize;
                    if (!size) {
                        const response = await fetch(entry.name, { cache: "force-cache" });
                        size = parseInt(response.headers.get("Content-Length") || "0", 10);
                    }
                    bytes += size;
                }
                if (!entries.length || !bytes) {
                    throw new Error("no Klarna resource was measured");
                }
                console.info(`klarna_osm_page_weight=${bytes} resources=${entries.length}`);
            },
        },
    ],
});

registry.category("web_tour.tours").add("klarna_osm_cart", {
    steps: () => [
        ...tourUtils.addToCart({ productName: "Klarna OSM Chair", ...tourSeries().leavesPage }),
        tourUtils.goToCart(),
        placementShows(".o_klarna_osm_order", 3000, "$30.00"),
        goTo("/shop"),
        ...tourUtils.addToCart({ productName: "Klarna OSM Stool", ...tourSeries().leavesPage }),
        tourUtils.goToCart({ quantity: 2 }),
        placementShows(".o_klarna_osm_order", 4500, "$45.00"),
        {
            content: "One more chair",
            trigger: 'div.o_cart_product:contains("Klarna OSM Chair") a[aria-label="Add one"]',
            run: "click",
        },
        placementShows(".o_klarna_osm_order", 7500, "$75.00"),
    ],
});

registry.category("web_tour.tours").add("klarna_osm_off", {
    steps: () => [
        ...openTheLamp(),
        {
            content: "No Klarna script and no placement",
            trigger: "#product_detail",
            run() {
                if (document.querySelector('script[src*="klarna.js"], klarna-placement')) {
                    throw new Error("Klarna On-Site Messaging is on the page");
                }
            },
        },
    ],
});
