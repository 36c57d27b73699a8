// SPDX-License-Identifier: GPL-2.0
/*
 * allocstat-run --svg: a self-contained SVG chart (no plotting library).
 * One stacked bar per run (per thread count for --sweep, per method for
 * --compare): the average per-thread time, split into where it went.
 */
#include <errno.h>
#include <string.h>

#include "allocstat-run.h"

#define BAR_W 56
#define STEP 96
#define LEFT 80
#define TOP 60
#define PLOT_H 300
#define MIN_W 720	/* room for the title */

/* a round grid step: 1, 2, 2.5 or 5 x 10^k, about a fifth of v */
static double grid_step(double v)
{
	static const double nice[] = { 1, 2, 2.5, 5, 10 };
	double mag = 1;

	while (mag * 10 <= v / 5)
		mag *= 10;
	while (mag > v / 5 && mag > 1e-3)
		mag /= 10;
	for (int i = 0; i < 5; i++)
		if (nice[i] * mag * 5 >= v)
			return nice[i] * mag;
	return 10 * mag;
}

int svg_write(const char *path, struct run **best, int n)
{
	int width = LEFT + n * STEP + 40, height = TOP + PLOT_H + 60 + NR_BUCKETS * 18;
	double max = 0, top, step, unit;
	int lines;
	char label[48], size[32];
	FILE *f;

	if (width < MIN_W)
		width = MIN_W;
	for (int i = 0; i < n; i++)
		if (per_thread_ms(best[i]) > max)
			max = per_thread_ms(best[i]);
	if (max <= 0)
		max = 1;
	step = grid_step(max);
	lines = (int)(max / step + 0.999);
	top = step * lines;
	unit = top >= 10000 ? 1000 : 1;		/* axis in s or ms */

	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "allocstat-run: fopen(%s): %s\n", path, strerror(errno));
		return -1;
	}
	format_size(env.size, size, sizeof(size));
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		"viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
		width, height, width, height);
	fprintf(f, "<text x=\"%d\" y=\"24\" font-size=\"15\" font-weight=\"bold\">"
		"allocstat-run%s: %s per thread, time per thread by %s</text>\n",
		LEFT, env.mode == MODE_SWEEP ? " --sweep" :
		env.mode == MODE_COMPARE ? " --compare" : "", size,
		env.mode == MODE_SWEEP ? "thread count" : "method");
	fprintf(f, "<text x=\"%d\" y=\"42\" fill=\"#555\">bar: average per-thread "
		"time (allocate + touch + free); number above: wall time</text>\n", LEFT);

	/* y axis: a grid line per step */
	for (int k = 0; k <= lines; k++) {
		double v = step * k / unit;
		int y = TOP + PLOT_H - PLOT_H * k / lines;

		fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>\n",
			LEFT, y, LEFT + n * STEP, y);
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%g</text>\n",
			LEFT - 6, y + 4, v);
	}
	fprintf(f, "<text transform=\"translate(20,%d) rotate(-90)\" text-anchor=\"middle\">"
		"%s per thread</text>\n", TOP + PLOT_H / 2, unit > 1 ? "seconds" : "ms");

	for (int i = 0; i < n; i++) {
		const struct run *r = best[i];
		int x = LEFT + i * STEP + (STEP - BAR_W) / 2;
		char *comma;
		double y = TOP + PLOT_H;

		/* unknown and negative buckets have no bar (the text report shows them) */
		for (int k = 0; k < NR_BUCKETS; k++) {
			int64_t ns = r->bd.known[k] ? r->bd.ns[k] : 0;
			double h = r->bd.thread_ns && ns > 0 ? PLOT_H * per_thread_ms(r) / top *
				(double)ns / (double)r->bd.thread_ns : 0;

			if (h <= 0)
				continue;
			y -= h;
			fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" "
				"fill=\"%s\"><title>%s: %.1f ms per thread</title></rect>\n",
				x, y, BAR_W, h, buckets[k].color, buckets[k].name,
				per_thread_ms(r) * (double)ns / (double)r->bd.thread_ns);
		}
		fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"middle\">%.2f s</text>\n",
			x + BAR_W / 2, y - 5, (double)r->wall_ns / 1e9);
		if (env.mode == MODE_SWEEP)
			snprintf(label, sizeof(label), "%d thr", r->cfg.threads);
		else
			config_label(&r->cfg, label, sizeof(label));
		/* "malloc/64KiB,top_pad=64MiB" on two lines */
		comma = strchr(label, ',');
		if (comma)
			*comma++ = '\0';
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
			x + BAR_W / 2, TOP + PLOT_H + 18, label);
		if (comma)
			fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
				x + BAR_W / 2, TOP + PLOT_H + 32, comma);
	}
	fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000\"/>\n",
		LEFT, TOP + PLOT_H, LEFT + n * STEP, TOP + PLOT_H);

	/* the legend names each colour */
	for (int k = 0; k < NR_BUCKETS; k++) {
		int y = TOP + PLOT_H + 50 + k * 18;

		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>"
			"<text x=\"%d\" y=\"%d\">%s</text>\n", LEFT, y, buckets[k].color,
			LEFT + 18, y + 10, buckets[k].name);
	}
	fputs("</svg>\n", f);
	if (fclose(f)) {
		fprintf(stderr, "allocstat-run: write %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}
