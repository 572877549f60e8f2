/**
 * The e-ticket's QR code: the modules come from qrcode-generator (through the mini-program
 * npm build), drawn as squares on a 2d canvas.
 */

const qrcode = require('qrcode-generator');

/** The module matrix of `text` (byte mode, error correction M): rows of booleans. */
function matrix(text) {
  const qr = qrcode(0, 'M');
  qr.addData(text, 'Byte');
  qr.make();
  const count = qr.getModuleCount();
  const rows = [];
  for (let r = 0; r < count; r += 1) {
    const row = [];
    for (let c = 0; c < count; c += 1) row.push(qr.isDark(r, c));
    rows.push(row);
  }
  return rows;
}

/** Draw `rows` on a CanvasRenderingContext2D of `size` px square, with a 4-module quiet zone. */
function draw(ctx, rows, size) {
  const cells = rows.length + 8;
  const unit = size / cells;
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, size, size);
  ctx.fillStyle = '#000000';
  rows.forEach((row, r) => {
    row.forEach((dark, c) => {
      if (dark) ctx.fillRect((c + 4) * unit, (r + 4) * unit, Math.ceil(unit), Math.ceil(unit));
    });
  });
}

/**
 * Find the <canvas type="2d" id=canvasId> of `component`, size it for the screen and draw.
 * Resolves true when drawn, false when the canvas is not available (e.g. an old base library).
 */
function render(component, canvasId, text, size) {
  const rows = matrix(text);
  return new Promise((resolve) => {
    const query = component.createSelectorQuery();
    query
      .select('#' + canvasId)
      .fields({ node: true, size: true })
      .exec((res) => {
        const canvas = res && res[0] && res[0].node;
        if (!canvas || typeof canvas.getContext !== 'function') {
          resolve(false);
          return;
        }
        const ratio =
          (wx.getWindowInfo ? wx.getWindowInfo() : wx.getSystemInfoSync()).pixelRatio || 2;
        canvas.width = size * ratio;
        canvas.height = size * ratio;
        const ctx = canvas.getContext('2d');
        ctx.scale(ratio, ratio);
        draw(ctx, rows, size);
        resolve(true);
      });
  });
}

module.exports = { matrix, draw, render };
