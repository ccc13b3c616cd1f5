/**
 * What the Klarna tours need to know of the running Odoo series, filled in by that series'
 * test asset (../series_18/tour_series.js or ../series_19/tour_series.js: only the running
 * series' one is loaded, see models/ir_asset.py) and read when a tour starts.
 */
const values = {};

export function defineTourSeries(seriesValues) {
    Object.assign(values, seriesValues);
}

/**
 * @return {{
 *     leavesPage: Object, // spread into a step that loads another page
 *     addressForm: string, // the shop's address form
 *     saveAddress: string, // its button to save the address and go on
 *     orderStatus: string, // the confirmation page's payment status
 * }}
 */
export function tourSeries() {
    if (!values.leavesPage) {
        throw new Error("payment_klarna: no series' test asset defined the tours' series");
    }
    return values;
}
