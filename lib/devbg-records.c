/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "devbg-records.h"
#include "devbg-error.h"
#include "devbg-names.h"
#include "devbg-utf8.h"

/* Each byte of the result has its high bit set where @word's byte is 0,
 * and no other bit: exact, unlike the usual "has a zero byte" test, whose
 * borrow marks a 0x01 byte above a zero one. */
static inline guint64
zero_bytes (guint64 word)
{
  const guint64 low7 = G_GUINT64_CONSTANT (0x7f7f7f7f7f7f7f7f);

  return ~(((word & low7) + low7) | word | low7);
}

/* The bytes of zero_bytes() are 0x80 or 0: the multiply sums them. */
static inline guint
count_zero_bytes (guint64 word)
{
  return (guint) (((zero_bytes (word) >> 7) * G_GUINT64_CONSTANT (0x0101010101010101)) >> 56);
}

gsize
devbg_records_count_nuls (const guint8 *data, gsize size)
{
  gsize n = 0, i = 0;

  for (; i + 8 <= size; i += 8)
    {
      guint64 word;

      memcpy (&word, data + i, 8);
      n += count_zero_bytes (word);
    }
  for (; i < size; i++)
    n += data[i] == '\0';
  return n;
}

/* Calls @visit with the offset of each NUL of @data, in order, found
 * eight bytes at a time (a strlen() per field cost more than the rest of
 * a page's parse); stops, returning FALSE, when @visit does. Always
 * inlined, so that the compiler inlines @visit too: called through a
 * pointer per field, the parse took 37% longer. */
G_ALWAYS_INLINE static inline gboolean
foreach_nul (const guint8 *data, gsize size, gboolean (*visit) (gsize nul, gpointer user_data),
             gpointer user_data)
{
  gsize i = 0;

  for (; i + 8 <= size; i += 8)
    {
      guint64 word;
      guint64 zeros;

      memcpy (&word, data + i, 8);
      /* Little-endian: the first byte in memory is the lowest. */
      zeros = zero_bytes (GUINT64_FROM_LE (word));
      for (; zeros != 0; zeros &= zeros - 1)
        if (!visit (i + ((guint) __builtin_ctzll (zeros) >> 3), user_data))
          return FALSE;
    }
  for (; i < size; i++)
    if (data[i] == '\0' && !visit (i, user_data))
      return FALSE;
  return TRUE;
}

/* One pass over a page, eight bytes at a time (a page is up to megabytes):
 * its number of NULs, hence of fields, its number of 0xFF bytes (repeat
 * marks, or a malformed page), and an offset before which it is all
 * ASCII but for 0xFF bytes (size when it all is), so that only the
 * fields ending after it need a UTF-8 check. */
static void
scan_page (const guint8 *page, gsize size, gsize *n_nuls, gsize *n_marks, gsize *ascii_end)
{
  const guint64 high = G_GUINT64_CONSTANT (0x8080808080808080);
  gsize i = 0;

  *n_nuls = 0;
  *n_marks = 0;
  *ascii_end = size;
  for (; i + 8 <= size; i += 8)
    {
      guint64 word;
      guint64 marks;

      memcpy (&word, page + i, 8);
      marks = zero_bytes (~word);
      *n_nuls += count_zero_bytes (word);
      *n_marks += count_zero_bytes (~word);
      if ((word & high & ~marks) != 0 && *ascii_end == size)
        *ascii_end = i;
    }
  for (; i < size; i++)
    {
      *n_nuls += page[i] == '\0';
      *n_marks += page[i] == DEVBG_RECORDS_REPEAT_MARK;
      if (page[i] >= 0x80 && page[i] != DEVBG_RECORDS_REPEAT_MARK && *ascii_end == size)
        *ascii_end = i;
    }
}

/* Where split_fields() is: the fields so far, and how many were repeat
 * marks. */
typedef struct {
  const guint8 *page;
  gsize         ascii_end;
  guint         n_fields;
  gpointer     *fields;
  gsize         n_repeats;
  gsize         start;     /* of the field being split */
  guint         n;         /* fields split so far */
  GError      **error;
} Split;

/* Field @index of the page, from @start to its NUL at @nul: a repeat mark
 * takes the field above it (the same field of the record before);
 * another is checked for UTF-8 unless it ends before ascii_end (the page
 * is ASCII, or 0xFF, up to there; devbg_records_parse() counts the 0xFF
 * bytes that are not marks). */
static inline gboolean
take_field (Split *s, gsize start, gsize nul, guint index, GError **error)
{
  const char *field = (const char *) s->page + start;

  if (nul - start == 1 && s->page[start] == DEVBG_RECORDS_REPEAT_MARK)
    {
      if (index < s->n_fields)
        {
          g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                       "packed records: field %u repeats a field of no record before it",
                       index);
          return FALSE;
        }
      s->fields[index] = s->fields[index - s->n_fields];
      s->n_repeats++;
      return TRUE;
    }
  if (nul > s->ascii_end && !g_utf8_validate (field, (gssize) (nul - start), NULL))
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "packed records: field %u is not UTF-8", index);
      return FALSE;
    }
  s->fields[index] = (gpointer) field;
  return TRUE;
}

/* The field ending at @nul: a foreach_nul() visitor. */
static inline gboolean
split_at (gsize nul, gpointer user_data)
{
  Split *s = user_data;

  if (!take_field (s, s->start, nul, s->n++, s->error))
    return FALSE;
  s->start = nul + 1;
  return TRUE;
}

/* The index of the first field of @page (whole fields, each ended by a
 * NUL) holding a 0xFF byte without being a repeat mark: a slow pass, for
 * the error only. */
static guint
first_field_with_stray_mark (const guint8 *page, gsize size)
{
  guint index = 0;

  for (gsize start = 0; start < size; index++)
    {
      const guint8 *nul = memchr (page + start, '\0', size - start);
      gsize length = (gsize) (nul - (page + start));

      if (length != 1 && memchr (page + start, DEVBG_RECORDS_REPEAT_MARK, length) != NULL)
        break;
      start += length + 1;
    }
  return index;
}

GPtrArray *
devbg_records_parse (const guint8 *page, gsize size, guint n_fields, GError **error)
{
  g_autoptr(GPtrArray) fields = NULL;
  gsize n_nuls, n_marks, ascii_end;
  Split split;

  g_return_val_if_fail (n_fields > 0, NULL);
  if (size > 0 && page[size - 1] != '\0')
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "packed records: the page does not end with a NUL");
      return NULL;
    }
  scan_page (page, size, &n_nuls, &n_marks, &ascii_end);
  /* A GPtrArray holds at most G_MAXINT; a D-Bus array is at most 64 MiB. */
  g_return_val_if_fail (n_nuls <= G_MAXINT, NULL);
  /* Sized once: one field a NUL. */
  fields = g_ptr_array_sized_new ((guint) n_nuls);
  g_ptr_array_set_size (fields, (gint) n_nuls);
  split = (Split) { .page = page, .ascii_end = ascii_end, .n_fields = n_fields,
                    .fields = fields->pdata, .error = error };
  if (!foreach_nul (page, size, split_at, &split))
    return NULL;
  /* A 0xFF byte is never UTF-8: one that is not a whole field, even
   * before ascii_end, makes its field malformed. */
  if (split.n_repeats != n_marks)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "packed records: field %u is not UTF-8",
                   first_field_with_stray_mark (page, size));
      return NULL;
    }
  if (fields->len % n_fields != 0)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "packed records: %u fields are not whole records of %u", fields->len,
                   n_fields);
      return NULL;
    }
  return g_steal_pointer (&fields);
}

GPtrArray *
devbg_records_parse_variant (GVariant *page, guint n_fields, gsize *size, GError **error)
{
  gsize n;
  const guint8 *data = g_variant_get_fixed_array (page, &n, 1);

  if (size != NULL)
    *size = n;
  return devbg_records_parse (data, n, n_fields, error);
}

/* @text as a number from @min to @max: digits only (leading zeros too), a
 * leading '-' only when @min < 0 ("-0" is 0), no '+', and nothing past
 * G_MAXINT64 or below G_MININT64. By hand: g_ascii_string_to_signed() and
 * its strtoll() were a third of decoding a History record. */
static gboolean
parse_decimal (const char *text, gint64 min, gint64 max, gint64 *out)
{
  gboolean negative = text[0] == '-' && min < 0;
  const char *digit = text + negative;
  /* The magnitude of G_MININT64 is one more than G_MAXINT64. */
  guint64 limit = (guint64) G_MAXINT64 + (negative ? 1 : 0);
  /* Past these, one more digit overflows: compared, not divided per digit
   * (a 64-bit division a digit was a tenth of decoding a History page). */
  guint64 limit_tens = limit / 10;
  guint limit_units = (guint) (limit % 10);
  guint64 magnitude = 0;
  gint64 value;

  if (*digit == '\0')
    return FALSE;
  for (; *digit != '\0'; digit++)
    {
      guint d = (guint) ((guchar) *digit - '0');

      if (d > 9 || magnitude > limit_tens || (magnitude == limit_tens && d > limit_units))
        return FALSE;
      magnitude = magnitude * 10 + d;
    }
  if (!negative)
    value = (gint64) magnitude;
  else if (magnitude == limit)
    value = G_MININT64;
  else
    value = -(gint64) magnitude;
  if (value < min || value > max)
    return FALSE;
  *out = value;
  return TRUE;
}

/* A decimal number from @min to @max, as devbgd writes it: digits only,
 * a leading '-' for a negative one. */
static gboolean
decode_number (const char *list, const char *const *fields, guint index, guint field,
               const char *what, gint64 min, gint64 max, gint64 *out, GError **error)
{
  const char *text = fields[field];

  if (!parse_decimal (text, min, max, out))
    {
      g_autofree char *quoted = devbg_utf8_excerpt (text, 32);

      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "%s record %u: %s '%s' is not a number from %" G_GINT64_FORMAT
                   " to %" G_GINT64_FORMAT, list, index, what, quoted, min, max);
      return FALSE;
    }
  return TRUE;
}

/* "0" or "1", nothing else. */
static gboolean
decode_boolean (const char *list, const char *const *fields, guint index, guint field,
                const char *what, gboolean *out, GError **error)
{
  const char *text = fields[field];

  if ((text[0] != '0' && text[0] != '1') || text[1] != '\0')
    {
      g_autofree char *quoted = devbg_utf8_excerpt (text, 32);

      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "%s record %u: %s '%s' is neither 0 nor 1", list, index, what, quoted);
      return FALSE;
    }
  *out = text[0] == '1';
  return TRUE;
}

gboolean
devbg_records_decode_history (const char *const *f, guint index, DevbgHistoryRecord *r,
                              GError **error)
{
  gint64 uid;

  G_STATIC_ASSERT (DEVBG_HISTORY_FIELDS == 13);
  if (!devbg_trigger_type_from_string (f[5], &r->trigger))
    {
      g_autofree char *quoted = devbg_utf8_excerpt (f[5], 32);

      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "History record %u: unknown trigger '%s'", index, quoted);
      return FALSE;
    }
  if (!decode_number ("History", f, index, 7, "uid", 0, G_MAXUINT32, &uid, error) ||
      !decode_number ("History", f, index, 8, "started-us", G_MININT64, G_MAXINT64,
                      &r->started_us, error) ||
      !decode_number ("History", f, index, 9, "finished-us", G_MININT64, G_MAXINT64,
                      &r->finished_us, error) ||
      !decode_boolean ("History", f, index, 10, "success", &r->success, error))
    return FALSE;
  r->instance_id = f[0];
  r->task_id = f[1];
  r->app_id = f[2];
  r->name = f[3];
  r->entry_point = f[4];
  r->device_id = f[6];
  r->uid = (guint32) uid;
  r->error = f[11];
  r->cancel_reason = f[12];
  return TRUE;
}

gboolean
devbg_records_decode_event (const char *const *f, guint index, DevbgEventEntry *e,
                            GError **error)
{
  G_STATIC_ASSERT (DEVBG_EVENT_FIELDS == 7);
  if (!decode_boolean ("Event", f, index, 3, "success", &e->success, error) ||
      !decode_number ("Event", f, index, 6, "finished-us", G_MININT64, G_MAXINT64,
                      &e->finished_us, error))
    return FALSE;
  e->event_id = f[0];
  e->task_id = f[1];
  e->instance_id = f[2];
  e->error = f[4];
  e->cancel_reason = f[5];
  return TRUE;
}

gboolean
devbg_records_decode_permission (const char *const *f, guint index, DevbgPermissionEntry *p,
                                 GError **error)
{
  gint64 uid;

  G_STATIC_ASSERT (DEVBG_PERMISSION_FIELDS == 4);
  if (!decode_number ("Permission", f, index, 0, "uid", 0, G_MAXUINT32, &uid, error) ||
      !decode_number ("Permission", f, index, 3, "created-us", G_MININT64, G_MAXINT64,
                      &p->created_us, error))
    return FALSE;
  if (*f[1] == '\0')
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "Permission record %u: the app ID is empty", index);
      return FALSE;
    }
  p->uid = (guint32) uid;
  p->app_id = f[1];
  p->model_id = f[2];
  return TRUE;
}

/* ---- encoding: what devbgd stores and serves ---- */

/* Appends @value in decimal, as decode_number() reads it back: the one
 * format of the numbers of every record (no printf: a page has thousands). */
static void
add_number (GByteArray *page, gint64 value)
{
  char text[24];
  char *p = text + sizeof text;
  /* Negated as unsigned: -G_MININT64 does not fit a gint64. */
  guint64 magnitude = value < 0 ? (guint64) 0 - (guint64) value : (guint64) value;

  *--p = '\0';
  do
    {
      *--p = (char) ('0' + magnitude % 10);
      magnitude /= 10;
    }
  while (magnitude != 0);
  if (value < 0)
    *--p = '-';
  g_byte_array_append (page, (const guint8 *) p, (guint) (text + sizeof text - p));
}

void
devbg_records_add_history (GByteArray *page, const DevbgHistoryRecord *r)
{
  G_STATIC_ASSERT (DEVBG_HISTORY_FIELDS == 13);
  devbg_records_add (page, r->instance_id);
  devbg_records_add (page, r->task_id);
  devbg_records_add (page, r->app_id);
  devbg_records_add (page, r->name);
  devbg_records_add (page, r->entry_point);
  devbg_records_add (page, devbg_trigger_type_to_string (r->trigger));
  devbg_records_add (page, r->device_id);
  add_number (page, r->uid);
  add_number (page, r->started_us);
  add_number (page, r->finished_us);
  devbg_records_add (page, r->success ? "1" : "0");
  devbg_records_add (page, r->error);
  devbg_records_add (page, r->cancel_reason);
}

void
devbg_records_add_permission (GByteArray *page, const DevbgPermissionEntry *p)
{
  G_STATIC_ASSERT (DEVBG_PERMISSION_FIELDS == 4);
  add_number (page, p->uid);
  devbg_records_add (page, p->app_id);
  devbg_records_add (page, p->model_id);
  add_number (page, p->created_us);
}

void
devbg_records_add_event (GByteArray *page, const DevbgEventEntry *e)
{
  G_STATIC_ASSERT (DEVBG_EVENT_FIELDS == 7);
  devbg_records_add (page, e->event_id);
  devbg_records_add (page, e->task_id);
  devbg_records_add (page, e->instance_id);
  devbg_records_add (page, e->success ? "1" : "0");
  devbg_records_add (page, e->error);
  devbg_records_add (page, e->cancel_reason);
  add_number (page, e->finished_us);
}

void
devbg_records_writer_init (DevbgRecordsWriter *w, GByteArray *page, guint n_fields)
{
  g_return_if_fail (n_fields > 0 && n_fields <= DEVBG_RECORDS_MAX_FIELDS);
  *w = (DevbgRecordsWriter) { .page = page, .n_fields = n_fields };
}

/* Where split_record() is. */
typedef struct {
  gsize *ends;
  guint  n_fields;
  guint  n;
} RecordSplit;

static gboolean
end_field (gsize nul, gpointer user_data)
{
  RecordSplit *r = user_data;

  if (r->n == r->n_fields)
    return FALSE;
  r->ends[r->n++] = nul;
  return TRUE;
}

/* The end of each field of @record (the offset of its NUL): FALSE unless
 * @record is exactly @n_fields fields. */
static gboolean
split_record (const guint8 *record, gsize size, guint n_fields, gsize *ends)
{
  RecordSplit r = { ends, n_fields, 0 };

  return foreach_nul (record, size, end_field, &r) && r.n == n_fields &&
         ends[n_fields - 1] == size - 1;
}

/* Whether the @length bytes at @a and @b are the same: inline, eight at
 * a time, as fields are short (a call to memcmp() a field was a tenth of
 * packing a page). */
static inline gboolean
same_bytes (const guint8 *a, const guint8 *b, gsize length)
{
  gsize i = 0;

  for (; i + 8 <= length; i += 8)
    {
      guint64 x, y;

      memcpy (&x, a + i, 8);
      memcpy (&y, b + i, 8);
      if (x != y)
        return FALSE;
    }
  for (; i < length; i++)
    if (a[i] != b[i])
      return FALSE;
  return TRUE;
}

gboolean
devbg_records_writer_add (DevbgRecordsWriter *w, const guint8 *record, gsize size)
{
  GByteArray *page = w->page;
  gsize ends[DEVBG_RECORDS_MAX_FIELDS];
  guint out = page->len;
  gsize in = 0;

  if (size > G_MAXUINT - page->len || !split_record (record, size, w->n_fields, ends))
    return FALSE;
  /* Room for the record written whole; what marks save is given back
   * below, by shortening the array (its len is public). */
  g_byte_array_set_size (page, page->len + (guint) size);
  for (guint f = 0; f < w->n_fields; f++)
    {
      guint length = (guint) (ends[f] - in);

      if (w->n_records > 0 && length >= 2 && length == w->above_length[f] &&
          same_bytes (page->data + w->above_offset[f], record + in, length))
        {
          page->data[out++] = DEVBG_RECORDS_REPEAT_MARK;
          page->data[out++] = '\0';
        }
      else
        {
          memcpy (page->data + out, record + in, length + 1);
          w->above_offset[f] = out;
          w->above_length[f] = length;
          out += length + 1;
        }
      in = ends[f] + 1;
    }
  page->len = out;
  w->n_records++;
  return TRUE;
}
