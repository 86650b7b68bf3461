// A small SVG line chart for the console's live figures: the last N points, scaled to the
// largest value shown, with the latest value written in the caption.
const SVG = 'http://www.w3.org/2000/svg';
// The viewBox; CSS stretches it to the card (preserveAspectRatio none).
const WIDTH = 300;
const HEIGHT = 100;

function svgElement(tag, attributes) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

export class LineChart {
  // `container` receives a <figure>; `format` writes a value for the caption.
  constructor(container, { id, title, format, points = 60 }) {
    this.format = format;
    this.capacity = points;
    this.values = [];
    this.figure = document.createElement('figure');
    this.figure.className = 'chart';
    this.figure.id = id;
    const caption = document.createElement('figcaption');
    const name = document.createElement('span');
    name.textContent = title;
    this.current = document.createElement('span');
    this.current.className = 'chart-value';
    this.current.setAttribute('aria-live', 'off');
    this.current.textContent = '–';
    caption.append(name, this.current);
    this.svg = svgElement('svg', {
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      preserveAspectRatio: 'none',
      role: 'img',
      'aria-label': title,
    });
    for (const y of [25, 50, 75]) {
      this.svg.append(svgElement('line', { class: 'grid', x1: 0, x2: WIDTH, y1: y, y2: y }));
    }
    this.area = svgElement('path', { class: 'area', d: '' });
    this.line = svgElement('path', { class: 'line', d: '' });
    this.svg.append(this.area, this.line);
    this.figure.append(caption, this.svg);
    container.append(this.figure);
  }

  // Adds a point; null shows as a gap-free 0 in the line but "–" in the caption.
  push(value) {
    this.values.push(value === null || !Number.isFinite(value) ? 0 : value);
    if (this.values.length > this.capacity) this.values.shift();
    this.current.textContent = value === null ? '–' : this.format(value);
    this.figure.dataset.latest = value === null ? '' : String(value);
    this.figure.dataset.points = String(this.values.length);
    this.draw();
  }

  draw() {
    const n = this.values.length;
    if (n === 0) return;
    const top = Math.max(...this.values) * 1.15 || 1;
    const step = WIDTH / Math.max(1, this.capacity - 1);
    const offset = (this.capacity - n) * step;
    const points = this.values.map((v, i) => [
      offset + i * step,
      HEIGHT - (v / top) * (HEIGHT - 4) - 2,
    ]);
    const path = points
      .map(([x, y], i) => `${i ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`)
      .join(' ');
    this.line.setAttribute('d', path);
    const first = points[0][0].toFixed(1);
    const last = points[n - 1][0].toFixed(1);
    this.area.setAttribute('d', `${path} L${last},${HEIGHT} L${first},${HEIGHT} Z`);
  }
}
