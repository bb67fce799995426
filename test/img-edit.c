/* img-edit: rewrite records of an image in place, for the hostile-image tests.
 *   img-edit FILE EDIT...
 * EDIT is one of
 *   [@R:]PATH=VALUE    set a field of record R (default 0); PATH is
 *                      name(.name|[i])*, e.g. vmas[2].end or threads[0]
 *   [@R:]PATH#=N       make repeated field PATH N long (new elements copy the last,
 *                      or are new messages with default fields when it was empty)
 *   An optional message field that is absent is made when a PATH goes through it.
 *   @+R                append a copy of record R as a new last record
 * VALUE: a number (0x.. hex, negative allowed) for numbers, enums and bools, or a
 * string.  The records are rewritten with valid lengths and checksums, so only
 * libcr's validation stands between them and a restore. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "image/image.h"

static ProtobufCMessage **recs;
static size_t nr;

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "img-edit: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(2);
}

static ProtobufCMessage *copy_msg(const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len + 1);
	ProtobufCMessage *c;

	protobuf_c_message_pack(m, buf);
	c = protobuf_c_message_unpack(m->descriptor, NULL, len, buf);
	free(buf);
	if (!c)
		die("can't copy a %s", m->descriptor->name);
	return c;
}

static size_t elem_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_ENUM:
		return 4;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	default:
		return 8;
	}
}

/* A message of that kind with every field at its default (set them next). */
static ProtobufCMessage *new_msg(const ProtobufCMessageDescriptor *d)
{
	ProtobufCMessage *m = calloc(1, d->sizeof_message);

	if (!m)
		die("out of memory for a %s", d->name);
	protobuf_c_message_init(d, m);
	return m;
}

/* Resize the repeated field at f of m to n elements (an empty one of messages
 * grows by new messages, others by copies of the last element). */
static void resize(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, size_t n)
{
	size_t *count = (size_t *)((char *)m + f->quantifier_offset), es = elem_size(f);
	char **arr = (char **)((char *)m + f->offset);

	if (n > *count) {
		if (!*count && f->type != PROTOBUF_C_TYPE_MESSAGE)
			die("can't grow the empty field %s", f->name);
		*arr = realloc(*arr, n * es);
		for (size_t i = *count; i < n; i++) {
			if (f->type == PROTOBUF_C_TYPE_MESSAGE && !*count)
				((ProtobufCMessage **)*arr)[i] = new_msg(f->descriptor);
			else if (f->type == PROTOBUF_C_TYPE_MESSAGE)
				((ProtobufCMessage **)*arr)[i] = copy_msg(((ProtobufCMessage **)*arr)[*count - 1]);
			else if (f->type == PROTOBUF_C_TYPE_STRING)
				((char **)*arr)[i] = strdup(((char **)*arr)[*count - 1]);
			else
				memcpy(*arr + i * es, *arr + (*count - 1) * es, es);
		}
	}
	/* shrinking leaks the dropped elements: this tool lives for one edit */
	*count = n;
}

static void set_value(void *p, const ProtobufCFieldDescriptor *f, const char *val)
{
	char *end;
	unsigned long long u = val[0] == '-' ? (unsigned long long)strtoll(val, &end, 0) : strtoull(val, &end, 0);

	if (f->type == PROTOBUF_C_TYPE_STRING) {
		*(char **)p = strdup(val);
		return;
	}
	if (*end || !*val)
		die("'%s' is not a number", val);
	switch (elem_size(f)) {
	case 4: { uint32_t v = u; memcpy(p, &v, 4); break; }
	case 8: memcpy(p, &u, 8); break;
	default: die("can't set field %s", f->name);
	}
}

static void edit(char *e)
{
	size_t rec = 0;
	ProtobufCMessage *m;
	char *val, *name;
	bool count = false;

	if (e[0] == '@' && e[1] == '+') {
		rec = strtoul(e + 2, NULL, 0);
		if (rec >= nr)
			die("no record %s", e + 2);
		recs = realloc(recs, (nr + 1) * sizeof(*recs));
		recs[nr++] = copy_msg(recs[rec]);
		return;
	}
	if (e[0] == '@') {
		rec = strtoul(e + 1, &e, 0);
		if (*e++ != ':' || rec >= nr)
			die("bad record in edit '%s'", e);
	}
	if (!(val = strchr(e, '=')))
		die("edit '%s' has no '='", e);
	*val++ = 0;
	if (val - e >= 2 && val[-2] == '#') {
		val[-2] = 0;
		count = true;
	}
	m = recs[rec];
	for (name = strtok(e, "."); name; name = strtok(NULL, ".")) {
		char *br = strchr(name, '[');
		const ProtobufCFieldDescriptor *f;
		long idx = -1;
		void *p;

		if (br) {
			*br = 0;
			idx = strtol(br + 1, NULL, 0);
		}
		if (!(f = protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name)))
			die("no field %s", name);
		p = (char *)m + f->offset;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(size_t *)((char *)m + f->quantifier_offset);
			if (count && idx < 0) {
				resize(m, f, strtoul(val, NULL, 0));
				return;
			}
			if (idx < 0 || (size_t)idx >= n)
				die("index out of range at %s", name);
			p = *(char **)p + idx * elem_size(f);
		} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
			   f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING) {
			*(protobuf_c_boolean *)((char *)m + f->quantifier_offset) = 1;
		}
		if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
			/* an absent optional message is made, to be filled by the edits */
			if (!*(ProtobufCMessage **)p && idx < 0)
				*(ProtobufCMessage **)p = new_msg(f->descriptor);
			if (!(m = *(ProtobufCMessage **)p))
				die("message %s is absent", name);
			continue;
		}
		set_value(p, f, val);
		return;
	}
	die("edit ends at a message, not a field: %s", val);
}

int main(int argc, char **argv)
{
	struct img *img;
	const struct img_desc *d;
	ProtobufCMessage *m;
	FILE *out;
	int ret;

	if (argc < 3)
		die("%s", "usage: img-edit FILE EDIT...");
	if (!(img = img_open_path(argv[1])))
		die("can't open %s", argv[1]);
	d = img_desc(img->kind);
	while ((ret = img_read_msg(img, d->head && !nr ? d->head : d->msg, &m)) > 0) {
		recs = realloc(recs, (nr + 1) * sizeof(*recs));
		recs[nr++] = m;
	}
	if (ret < 0)
		die("can't read %s", argv[1]);
	for (int i = 2; i < argc; i++)
		edit(argv[i]);
	if (!(out = fopen(argv[1], "we")))
		die("can't write %s", argv[1]);
	uint32_t hdr[2] = { IMG_MAGIC, d->magic };
	fwrite(hdr, sizeof(hdr), 1, out);
	for (size_t i = 0; i < nr; i++) {
		size_t len = protobuf_c_message_get_packed_size(recs[i]);
		uint8_t *buf = malloc(len + 1);
		protobuf_c_message_pack(recs[i], buf);
		hdr[0] = len;
		hdr[1] = crc32c(0, buf, len);
		fwrite(hdr, sizeof(hdr), 1, out);
		fwrite(buf, len, 1, out);
		free(buf);
	}
	if (fclose(out))
		die("can't write %s", argv[1]);
	return 0;
}
