/* cr_show_image(): decode any record image into text or JSON by walking the
 * protobuf-c descriptors, so a new image kind needs no code here.  The image is
 * untrusted: everything printed goes through the escaping below. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "image/image.h"
#include "log.h"
#include "util.h"

#define SHOW_MAX_DEPTH 32   /* deeper nesting is only possible with recursive schemas */
#define SHOW_TEXT_BYTES 64  /* bytes fields are cut here in text mode */

/* A small buffered writer; the first write error sticks and later output is dropped. */
struct out {
	int fd;
	int err;
	bool json;
	size_t len;
	char buf[8192];
};

static void out_flush(struct out *o)
{
	if (o->len && !o->err)
		o->err = write_all(o->fd, o->buf, o->len);
	o->len = 0;
}

static void out_write(struct out *o, const void *p, size_t n)
{
	if (o->len + n > sizeof(o->buf)) {
		out_flush(o);
		if (n > sizeof(o->buf)) {
			if (!o->err)
				o->err = write_all(o->fd, p, n);
			return;
		}
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void out_putc(struct out *o, char c)
{
	if (o->len == sizeof(o->buf))
		out_flush(o);
	o->buf[o->len++] = c;
}

static void out_puts(struct out *o, const char *s)
{
	out_write(o, s, strlen(s));
}

static void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct out *o, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		out_write(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void out_indent(struct out *o, int depth)
{
	for (int i = 0; i < depth; i++)
		out_write(o, "  ", 2);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;              /* no UTF-16 surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;              /* nothing above U+10FFFF */
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* A quoted string, escaped the JSON way (valid in both modes); bytes that are
 * not UTF-8 become \u00XX. */
static void out_str(struct out *o, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n;

	if (!str) {
		out_puts(o, "null");
		return;
	}
	n = strlen(str);
	out_putc(o, '"');
	while (n) {
		size_t l = utf8_seq(s, n);

		if (l > 1) {
			out_write(o, s, l);
		} else if (!l || *s < 0x20 || *s == 0x7f) {
			switch (*s) {
			case '\n': out_puts(o, "\\n"); break;
			case '\t': out_puts(o, "\\t"); break;
			case '\r': out_puts(o, "\\r"); break;
			case '\b': out_puts(o, "\\b"); break;
			case '\f': out_puts(o, "\\f"); break;
			default: out_printf(o, "\\u%04x", *s);
			}
			l = 1;
		} else if (*s == '"' || *s == '\\') {
			out_putc(o, '\\');
			out_putc(o, *s);
		} else {
			out_putc(o, *s);
		}
		s += l;
		n -= l;
	}
	out_putc(o, '"');
}

static void out_hex(struct out *o, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out_putc(o, digits[p[i] >> 4]);
		out_putc(o, digits[p[i] & 15]);
	}
}

static void out_bytes(struct out *o, const ProtobufCBinaryData *b)
{
	if (o->json) {
		out_putc(o, '"');
		out_hex(o, b->data, b->len);
		out_putc(o, '"');
	} else if (!b->len) {
		out_puts(o, "(0 bytes)");
	} else if (b->len <= SHOW_TEXT_BYTES) {
		out_hex(o, b->data, b->len);
	} else {
		out_hex(o, b->data, SHOW_TEXT_BYTES);
		out_printf(o, "... (%zu bytes)", b->len);
	}
}

static bool has_prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

static bool has_suffix(const char *s, const char *x)
{
	size_t ls = strlen(s), lx = strlen(x);

	return ls >= lx && !strcmp(s + ls - lx, x);
}

enum num_fmt { NUM_DEC, NUM_HEX, NUM_OCT };

/* Text mode only: unsigned fields that hold addresses, bit masks or registers
 * read best in hex, file modes in octal.  JSON has decimal numbers only. */
static enum num_fmt num_fmt(const ProtobufCMessageDescriptor *md, const ProtobufCFieldDescriptor *f)
{
	static const char *const exact[] = {
		"start", "end", "vaddr", "ip", "sp", "handler", "restorer", "base",
		"ptr", "pointer", "addr", "mask", "sigmask", "flags", "madv",
		"robust_list", "clear_child_tid",
	};
	static const char *const suffixes[] = {
		"_addr", "_base", "_ptr", "_pointer", "_start", "_end", "_mask",
	};
	const char *name = f->name;

	if (f->type == PROTOBUF_C_TYPE_UINT32 || f->type == PROTOBUF_C_TYPE_FIXED32) {
		if (!strcmp(name, "mode") || !strcmp(name, "umask"))
			return NUM_OCT;
		return !strcmp(name, "flags") ? NUM_HEX : NUM_DEC;
	}
	if (f->type != PROTOBUF_C_TYPE_UINT64 && f->type != PROTOBUF_C_TYPE_FIXED64)
		return NUM_DEC;
	if (has_suffix(md->name, "regs"))
		return NUM_HEX;
	for (size_t i = 0; i < ARRAY_SIZE(exact); i++)
		if (!strcmp(name, exact[i]))
			return NUM_HEX;
	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++)
		if (has_suffix(name, suffixes[i]))
			return NUM_HEX;
	return has_prefix(name, "mm_") || has_prefix(name, "cap_") ? NUM_HEX : NUM_DEC;
}

static size_t elem_size(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	default:                        /* 32-bit integers, float, enum */
		return 4;
	}
}

static void show_message(struct out *o, const ProtobufCMessage *msg, int depth);

/* One value of field f (of message type md) stored at p. */
static void show_value(struct out *o, const ProtobufCMessageDescriptor *md,
		       const ProtobufCFieldDescriptor *f, const void *p, int depth)
{
	enum num_fmt fmt = o->json ? NUM_DEC : num_fmt(md, f);

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
		out_printf(o, "%" PRId32, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
		if (fmt == NUM_HEX)
			out_printf(o, "0x%" PRIx32, *(const uint32_t *)p);
		else
			out_printf(o, fmt == NUM_OCT ? "0%" PRIo32 : "%" PRIu32, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
		out_printf(o, "%" PRId64, *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
		if (fmt == NUM_HEX)
			out_printf(o, "0x%" PRIx64, *(const uint64_t *)p);
		else
			out_printf(o, "%" PRIu64, *(const uint64_t *)p);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE: {
		double d = f->type == PROTOBUF_C_TYPE_FLOAT ? *(const float *)p : *(const double *)p;

		if (o->json && !isfinite(d))
			out_puts(o, "null");
		else
			out_printf(o, "%.17g", d);
		break;
	}
	case PROTOBUF_C_TYPE_BOOL:
		out_puts(o, *(const protobuf_c_boolean *)p ? "true" : "false");
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		int v = *(const int *)p;
		const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);

		if (!ev)
			out_printf(o, "%d", v);        /* a value this build does not know */
		else if (o->json)
			out_str(o, ev->name);
		else
			out_puts(o, ev->name);
		break;
	}
	case PROTOBUF_C_TYPE_STRING:
		out_str(o, *(char *const *)p);
		break;
	case PROTOBUF_C_TYPE_BYTES:
		out_bytes(o, p);
		break;
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;

		if (!m)
			out_puts(o, "null");
		else
			show_message(o, m, depth);
		break;
	}
	}
}

/* Whether a non-repeated field is set in msg. */
static bool field_present(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
	const char *base = (const char *)msg;
	bool pointer = f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE;

	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)(base + f->quantifier_offset) == f->id;
	if (pointer && f->label != PROTOBUF_C_LABEL_REQUIRED)
		return *(void *const *)(base + f->offset) != NULL;
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL && !pointer)
		return *(const protobuf_c_boolean *)(base + f->quantifier_offset);
	return true;                    /* required, or a proto3 scalar */
}

static bool scalar_list(const ProtobufCFieldDescriptor *f)
{
	return f->type != PROTOBUF_C_TYPE_MESSAGE;
}

static void show_repeated(struct out *o, const ProtobufCMessageDescriptor *md,
			  const ProtobufCFieldDescriptor *f, size_t n, const char *arr, int depth)
{
	size_t sz = elem_size(f->type);

	if (scalar_list(f)) {
		out_putc(o, '[');
		for (size_t i = 0; i < n; i++) {
			if (i)
				out_puts(o, ", ");
			show_value(o, md, f, arr + i * sz, depth);
		}
		out_putc(o, ']');
		return;
	}
	if (o->json) {
		if (!n) {
			out_puts(o, "[]");
			return;
		}
		out_putc(o, '[');
		for (size_t i = 0; i < n; i++) {
			out_puts(o, i ? ",\n" : "\n");
			out_indent(o, depth + 1);
			show_value(o, md, f, arr + i * sz, depth + 1);
		}
		out_putc(o, '\n');
		out_indent(o, depth);
		out_putc(o, ']');
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (i) {
			out_indent(o, depth);
			out_printf(o, "%s[%zu]:", f->name, i);
		} else {
			/* the caller printed "name"; the first element completes it */
			out_puts(o, "[0]:");
		}
		out_putc(o, '\n');
		show_value(o, md, f, arr + i * sz, depth + 1);
	}
}

/* Text: "name: value" lines at depth, nested messages on their own indented lines.
 * JSON: an object whose closing brace is at depth. */
static void show_message(struct out *o, const ProtobufCMessage *msg, int depth)
{
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	const char *base = (const char *)msg;
	bool first = true;

	if (depth > SHOW_MAX_DEPTH) {
		out_puts(o, o->json ? "null" : "...\n");
		return;
	}
	if (o->json)
		out_putc(o, '{');
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		bool rep = f->label == PROTOBUF_C_LABEL_REPEATED;
		size_t n = rep ? *(const size_t *)(base + f->quantifier_offset) : 0;
		const void *p = base + f->offset;

		if (rep ? !n && !o->json : !field_present(msg, f))
			continue;
		if (o->json) {
			out_puts(o, first ? "\n" : ",\n");
			out_indent(o, depth + 1);
			out_str(o, f->name);
			out_puts(o, ": ");
			if (rep)
				show_repeated(o, d, f, n, *(char *const *)p, depth + 1);
			else
				show_value(o, d, f, p, depth + 1);
		} else {
			out_indent(o, depth);
			out_puts(o, f->name);
			if (rep && !scalar_list(f)) {
				show_repeated(o, d, f, n, *(char *const *)p, depth);
				continue;
			}
			if (f->type == PROTOBUF_C_TYPE_MESSAGE && !rep &&
			    *(ProtobufCMessage *const *)p) {
				out_puts(o, ":\n");
				show_value(o, d, f, p, depth + 1);
				continue;
			}
			out_puts(o, ": ");
			if (rep)
				show_repeated(o, d, f, n, *(char *const *)p, depth);
			else
				show_value(o, d, f, p, depth);
			out_putc(o, '\n');
		}
		first = false;
	}
	if (o->json) {
		if (!first) {
			out_putc(o, '\n');
			out_indent(o, depth);
		}
		out_putc(o, '}');
	} else if (msg->n_unknown_fields) {
		out_indent(o, depth);
		out_printf(o, "# %u unknown field(s): written by a newer libcr?\n", msg->n_unknown_fields);
	}
}

static int open_error(const char *path)
{
	const char *base = strrchr(path, '/');
	int kind;

	base = base ? base + 1 : path;
	kind = img_kind_of_name(base);
	if (kind < 0 || img_kind_is_raw(kind))
		return -EINVAL;
	return errno ? -errno : -EIO;
}

CR_EXPORT int cr_show_image(const char *path, bool json, int out_fd)
{
	const struct img_desc *d;
	struct img *img;
	struct out o = { .fd = out_fd, .json = json };
	ProtobufCMessage *msg;
	unsigned n = 0;
	int ret;

	cr_error_reset();
	if (!path || out_fd < 0) {
		pr_err("cr_show_image: %s", !path ? "no image path given" : "bad output fd");
		return -EINVAL;
	}
	errno = 0;
	img = img_open_path(path);
	if (!img)
		return open_error(path);
	d = img_desc(img->kind);

	if (json)
		out_putc(&o, '[');
	for (;;) {
		const ProtobufCMessageDescriptor *desc = !n && d->head ? d->head : d->msg;

		ret = img_read_msg(img, desc, &msg);
		if (ret <= 0)
			break;
		if (json) {
			out_puts(&o, n ? ",\n  " : "\n  ");
			show_message(&o, msg, 1);
		} else {
			out_printf(&o, "%s# record %u: %s\n", n ? "\n" : "", n, desc->name);
			show_message(&o, msg, 0);
		}
		img_free_msg(msg);
		n++;
		if (o.err)
			break;
	}
	if (json)
		out_puts(&o, n ? "\n]\n" : "]\n");
	else if (!ret)
		out_printf(&o, "%s# %s: %u record%s\n", n ? "\n" : "", img->name, n, n == 1 ? "" : "s");
	out_flush(&o);
	img_close(img);
	if (ret < 0)
		return ret;
	if (o.err) {
		errno = -o.err;
		return pr_perror("can't write the decoded image %s", path);
	}
	return 0;
}
