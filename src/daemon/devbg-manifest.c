/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "devbg-manifest"

#include "devbg-manifest.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devbg-error.h"
#include "devbg-names.h"
#include "devbg-utf8.h"
#include "devbg-xml.h"

#define MAX_NAME_LEN 255
/* The entry points an error message lists (devbg_manifest_list_entry_points()):
 * it goes back to the caller, and a reply is only sent once the bus has
 * room for it; 256 names of 255 bytes would be 70 KB a refused call. */
#define MAX_LISTED_ENTRY_POINTS 10
/* What a note of something ignored quotes of a word the manifest gave
 * (a category, a task type, an entry point not checked): enough to
 * recognize it; the notes go into log lines and error messages. */
#define MAX_QUOTED_WORD 64
/* Two edits at most: a letter left out, doubled or swapped. */
#define MAX_TYPO_DISTANCE 2

typedef enum {
  IN_NONE,
  IN_APPLICATION,
  IN_EXTENSIONS,
  IN_EXTENSION,       /* a windows.backgroundTasks extension */
  IN_BACKGROUND_TASKS,
  IN_TASK,
  IN_CAPABILITIES,
  IN_EXECUTABLES,     /* the app's other executables: its helpers */
  IN_DEVICE_CAPABILITY,
  IN_DEVICE,
  IN_FUNCTION,
  IN_SKIPPED,         /* inside an element devbg does not use */
} ParseState;

typedef struct {
  DevbgManifest   *manifest;
  ParseState       state;
  ParseState       skip_return; /* where a skipped subtree's end returns */
  guint            skip_depth;
  DevbgEntryPoint *current; /* the extension being read */
  guint            other_tasks; /* task types of other kinds in it */
  DevbgDeviceDeclKind decl_kind; /* the DeviceCapability being read */
  DevbgDeviceDecl *decl;         /* its Device being read */
  GPtrArray       *functions;    /* that Device's Functions */
  GPtrArray       *helpers;      /* <Executables> read so far */
  guint            n_typos;      /* likely typos at the start of manifest->ignored */
} ParseData;

static void
device_decl_free (DevbgDeviceDecl *decl)
{
  g_strfreev (decl->functions);
  g_free (decl->hardware_id);
  g_free (decl);
}

static void
entry_point_free (DevbgEntryPoint *ep)
{
  g_free (ep->name);
  g_free (ep->executable);
  g_free (ep);
}

gboolean
devbg_app_id_is_valid (const char *app_id)
{
  g_auto(GStrv) elements = NULL;
  guint n = 0;

  if (app_id == NULL || *app_id == '\0' || strlen (app_id) > MAX_NAME_LEN)
    return FALSE;
  elements = g_strsplit (app_id, ".", -1);
  for (char **e = elements; *e != NULL; e++, n++)
    {
      if (**e == '\0' || g_ascii_isdigit (**e))
        return FALSE;
      for (const char *c = *e; *c != '\0'; c++)
        if (!g_ascii_isalnum (*c) && *c != '_' && *c != '-')
          return FALSE;
    }
  return n >= 2;
}

static gboolean
entry_point_name_is_valid (const char *name)
{
  if (name == NULL || *name == '\0' || strlen (name) > MAX_NAME_LEN)
    return FALSE;
  for (const char *c = name; *c != '\0'; c++)
    if (!g_ascii_isalnum (*c) && strchr ("_.:-", *c) == NULL)
      return FALSE;
  return TRUE;
}

/* Characters that show nothing yet are not format characters: Unicode's
 * other default-ignorable code points (the Hangul fillers, Mongolian and
 * other variation selectors, the combining grapheme joiner, tags) and the
 * braille blank. A run of them pushes the app ID off a notification's
 * first line, or makes an empty-looking name. */
static gboolean
is_invisible (gunichar u)
{
  static const struct { gunichar first, last; } ranges[] = {
    { 0x034F, 0x034F }, { 0x115F, 0x1160 }, { 0x17B4, 0x17B5 }, { 0x180B, 0x180F },
    { 0x2800, 0x2800 }, { 0x3164, 0x3164 }, { 0xFE00, 0xFE0F }, { 0xFFA0, 0xFFA0 },
    { 0xFFF0, 0xFFF8 }, { 0x1BCA0, 0x1BCA3 }, { 0x1D173, 0x1D17A }, { 0xE0000, 0xE0FFF },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (ranges); i++)
    if (u >= ranges[i].first && u <= ranges[i].last)
      return TRUE;
  return FALSE;
}

/* A name a person reads in a consent prompt, beside the app ID: printable
 * text that neither hides the ID nor looks like one, nor like devbgd
 * itself. Returns what is wrong with @name, or NULL when nothing is.
 * Control characters would drive a terminal agent; format characters (bidi
 * overrides, zero-width), invisible and filler characters, other spaces
 * than U+0020 and runs of spaces or of combining marks make the text shown
 * differ from the text read or push the ID out of sight; brackets and
 * colons (in any width, so NFKC) make "Name (org.real.App)" or "devbgd: ..."
 * claims. Combining marks are fine (a decomposed "é", Devanagari vowel
 * signs) up to 2 in a row after a base character. */
static const char *
display_name_problem (const char *name)
{
  glong n = g_utf8_strlen (name, -1);
  gunichar previous = ' ';
  guint marks = 0;

  if (n < 1 || n > DEVBG_MAX_DISPLAY_NAME)
    return "not 1 to " G_STRINGIFY (DEVBG_MAX_DISPLAY_NAME) " characters";
  if (*name == ' ' || g_str_has_suffix (name, " "))
    return "a leading or trailing space";
  for (const char *c = name; *c != '\0'; c = g_utf8_next_char (c))
    {
      gunichar u = g_utf8_get_char (c);
      GUnicodeType type = g_unichar_type (u);
      gboolean mark = type == G_UNICODE_SPACING_MARK || type == G_UNICODE_NON_SPACING_MARK ||
                      type == G_UNICODE_ENCLOSING_MARK;
      g_autofree char *compatible = NULL;

      if (type == G_UNICODE_CONTROL || type == G_UNICODE_FORMAT ||
          type == G_UNICODE_LINE_SEPARATOR || type == G_UNICODE_PARAGRAPH_SEPARATOR ||
          type == G_UNICODE_UNASSIGNED || type == G_UNICODE_PRIVATE_USE ||
          type == G_UNICODE_SURROGATE)
        return "a control, format, line-separator or unassigned character";
      /* g_unichar_iszerowidth() counts all Mn and Me marks: those are
       * limited below instead. */
      if (is_invisible (u) || (!mark && g_unichar_iszerowidth (u)))
        return "an invisible or filler character";
      if (type == G_UNICODE_SPACE_SEPARATOR && u != ' ')
        return "a space other than U+0020";
      if (u == ' ' && previous == ' ')
        return "two spaces in a row";
      if (mark && (previous == ' ' || ++marks > 2))
        return "a combining mark at the start, after a space or more than 2 in a row";
      if (!mark)
        marks = 0;
      compatible = g_utf8_normalize (c, g_utf8_next_char (c) - c, G_NORMALIZE_NFKC);
      if (compatible != NULL && strpbrk (compatible, "()[]<>:\"") != NULL)
        return "a bracket, colon or quotation mark";
      previous = u;
    }
  return NULL;
}

/* An executable's path: absolute, and no longer than a program's path can
 * be (execve() refuses a longer one with ENAMETOOLONG). It is quoted in
 * what a failed start tells the app, so a longer one would only make that
 * message as long as the manifest. */
static gboolean
check_executable_path (GMarkupParseContext *ctx, GError **error, const char *what,
                       const char *path)
{
  if (strlen (path) >= PATH_MAX)
    return devbg_xml_fail (ctx, error, "%s is longer than %d bytes, the longest path of a "
                           "program", what, PATH_MAX - 1);
  if (!g_path_is_absolute (path))
    return devbg_xml_fail (ctx, error, "%s '%s' is not an absolute path", what, path);
  return TRUE;
}

/* The edit distance between @a and @b, ASCII letters in any case, or
 * MAX_TYPO_DISTANCE + 1 when it is more than that. */
static guint
typo_distance (const char *a, const char *b)
{
  gsize la = strlen (a), lb = strlen (b);
  guint row[64], prev_diag, best;

  if (lb >= G_N_ELEMENTS (row) || la > lb + MAX_TYPO_DISTANCE || lb > la + MAX_TYPO_DISTANCE)
    return MAX_TYPO_DISTANCE + 1;
  for (gsize j = 0; j <= lb; j++)
    row[j] = (guint) j;
  for (gsize i = 1; i <= la; i++)
    {
      prev_diag = row[0];
      row[0] = (guint) i;
      best = row[0];
      for (gsize j = 1; j <= lb; j++)
        {
          guint up = row[j];
          guint cost = g_ascii_tolower (a[i - 1]) == g_ascii_tolower (b[j - 1]) ? 0 : 1;

          row[j] = MIN (MIN (row[j - 1] + 1, up + 1), prev_diag + cost);
          prev_diag = up;
          best = MIN (best, row[j]);
        }
      if (best > MAX_TYPO_DISTANCE)
        return MAX_TYPO_DISTANCE + 1;
    }
  return row[lb];
}

/* ", likely a typo of 'deviceUse'" when @word is close to one of @names
 * (NULL-terminated), naming letter case when that is all that differs;
 * NULL when it is close to none. */
static char *
likely_typo (const char *word, const char *const *names)
{
  for (const char *const *n = names; *n != NULL; n++)
    {
      if (g_ascii_strcasecmp (word, *n) == 0)
        return g_strdup_printf ("; likely a typo of '%s': names are case-sensitive", *n);
      if (typo_distance (word, *n) <= MAX_TYPO_DISTANCE)
        return g_strdup_printf ("; likely a typo of '%s'", *n);
    }
  return NULL;
}

/* Keeps why something of the manifest was ignored (@reason, taken): a
 * manifest that loads with its entry point dropped over a typo only shows
 * it at Register otherwise. Bounded, likely typos first, as those are
 * what the manifest's author is looking for. */
static void
note_ignored (ParseData *pd, gboolean typo, char *reason)
{
  GPtrArray *ignored = pd->manifest->ignored;

  g_debug ("%s: ignored: %s", pd->manifest->origin, reason);
  pd->manifest->n_ignored++;
  if (typo)
    g_ptr_array_insert (ignored, (gint) MIN (pd->n_typos, ignored->len), reason);
  else
    g_ptr_array_add (ignored, reason);
  if (typo && pd->n_typos < DEVBG_MANIFEST_MAX_IGNORED)
    pd->n_typos++;
  if (ignored->len > DEVBG_MANIFEST_MAX_IGNORED)
    g_ptr_array_remove_index (ignored, ignored->len - 1);
}

static void
skip (ParseData *pd, ParseState back)
{
  pd->state = IN_SKIPPED;
  pd->skip_return = back;
  pd->skip_depth = 1;
}

static gboolean
start_application (ParseData *pd, GMarkupParseContext *ctx, const char **names,
                   const char **values, GError **error)
{
  const char *id = NULL, *exe = NULL;

  if (!devbg_xml_collect (ctx, "Application", names, values, error,
                          "Id", &id, "?Executable", &exe, NULL))
    return FALSE;
  if (!devbg_app_id_is_valid (id))
    return devbg_xml_fail (ctx, error,
                           "Id '%s' is not a valid app ID (reverse-DNS, like org.example.App)",
                           id);
  if (exe != NULL && !check_executable_path (ctx, error, "Executable", exe))
    return FALSE;
  pd->manifest->app_id = g_strdup (id);
  pd->manifest->executable = g_strdup (exe);
  return TRUE;
}

/* Windows' <uap:VisualElements DisplayName="..." ...>: of its many
 * attributes (logos, colours, a description) devbg reads the name only. A
 * name that is a resource reference ("ms-resource:...") names nothing
 * devbg can read. */
static gboolean
start_visual_elements (ParseData *pd, GMarkupParseContext *ctx, const char **names,
                       const char **values, GError **error)
{
  const char *name = NULL;
  const char *problem;

  for (guint i = 0; names[i] != NULL; i++)
    if (strcmp (names[i], "DisplayName") == 0)
      name = values[i];
  if (name == NULL)
    return TRUE;
  if (pd->manifest->display_name != NULL)
    return devbg_xml_fail (ctx, error, "a second DisplayName; an app has one name");
  if (g_str_has_prefix (name, "ms-resource:"))
    {
      g_debug ("%s: DisplayName '%s' is a resource reference; ignored", pd->manifest->origin, name);
      return TRUE;
    }
  problem = display_name_problem (name);
  if (problem != NULL)
    return devbg_xml_fail (ctx, error,
                           "DisplayName is not a name to show: %s (1 to %d characters of "
                           "visible text, single spaces between words, no brackets, colons "
                           "or quotation marks)", problem, DEVBG_MAX_DISPLAY_NAME);
  pd->manifest->display_name = g_strdup (name);
  return TRUE;
}

static gboolean
start_extension (ParseData *pd, GMarkupParseContext *ctx, const char **names,
                 const char **values, GError **error)
{
  const char *category = NULL, *entry_point = NULL, *exe = NULL;

  if (!devbg_xml_collect (ctx, "Extension", names, values, error,
                          "Category", &category, "?EntryPoint", &entry_point,
                          "?Executable", &exe, NULL))
    return FALSE;
  if (strcmp (category, "windows.backgroundTasks") != 0)
    {
      /* Other kinds of extension (file types, protocols...) are the app's
       * business, not devbg's; said, as a typo here drops an entry point. */
      static const char *const background_tasks[] = { "windows.backgroundTasks", NULL };
      g_autofree char *typo = likely_typo (category, background_tasks);
      g_autofree char *quoted = devbg_utf8_excerpt (category, MAX_QUOTED_WORD);
      g_autofree char *ep_quoted = entry_point != NULL
                                   ? devbg_utf8_excerpt (entry_point, MAX_QUOTED_WORD) : NULL;

      note_ignored (pd, typo != NULL,
                    g_strdup_printf ("Extension Category '%s'%s%s%s (not "
                                     "windows.backgroundTasks%s)", quoted,
                                     ep_quoted != NULL ? " of entry point '" : "",
                                     ep_quoted != NULL ? ep_quoted : "",
                                     ep_quoted != NULL ? "'" : "", typo != NULL ? typo : ""));
      skip (pd, IN_EXTENSIONS);
      return TRUE;
    }
  if (!entry_point_name_is_valid (entry_point))
    return devbg_xml_fail (ctx, error,
                           "EntryPoint '%s' is missing or invalid (1 to 255 of A-Z a-z 0-9 _ . : -)",
                           entry_point ? entry_point : "");
  if (exe == NULL)
    exe = pd->manifest->executable;
  if (exe == NULL)
    return devbg_xml_fail (ctx, error,
                           "entry point '%s' names no Executable, and the Application none either",
                           entry_point);
  if (!check_executable_path (ctx, error, "Executable", exe))
    return FALSE;

  pd->current = g_new0 (DevbgEntryPoint, 1);
  pd->current->name = g_strdup (entry_point);
  pd->current->executable = g_strdup (exe);
  pd->other_tasks = 0;
  pd->state = IN_EXTENSION;
  return TRUE;
}

static gboolean
start_task (ParseData *pd, GMarkupParseContext *ctx, const char **names,
            const char **values, GError **error)
{
  const char *type = NULL;

  if (!devbg_xml_collect (ctx, "Task", names, values, error, "Type", &type, NULL))
    return FALSE;
  /* Each new entry point is compared with all before it (add_entry_point()),
   * so their number is bounded. Checked at its first device task, where
   * the error can name a line, and where an extension devbg ignores (no
   * device task) or one more of an entry point already declared does not
   * count. */
  if ((strcmp (type, "deviceUse") == 0 || strcmp (type, "deviceServicing") == 0) &&
      pd->current->triggers == 0 &&
      pd->manifest->entry_points->len >= DEVBG_MAX_ENTRY_POINTS &&
      devbg_manifest_find_entry_point (pd->manifest, pd->current->name) == NULL)
    return devbg_xml_fail (ctx, error, "entry point '%s' is past the limit: a manifest "
                           "declares at most %d entry points (DEVBG_MAX_ENTRY_POINTS)",
                           pd->current->name, DEVBG_MAX_ENTRY_POINTS);
  if (strcmp (type, "deviceUse") == 0)
    pd->current->triggers |= 1u << DEVBG_TRIGGER_USE;
  else if (strcmp (type, "deviceServicing") == 0)
    pd->current->triggers |= 1u << DEVBG_TRIGGER_SERVICING;
  else
    {
      /* A real Windows manifest has timers, push notifications...: not
       * devbg's, and no reason to refuse the app's device tasks. */
      static const char *const device_tasks[] = { "deviceUse", "deviceServicing", NULL };
      g_autofree char *typo = likely_typo (type, device_tasks);
      g_autofree char *quoted = devbg_utf8_excerpt (type, MAX_QUOTED_WORD);

      note_ignored (pd, typo != NULL,
                    g_strdup_printf ("Task Type '%s' of entry point '%s' (not deviceUse or "
                                     "deviceServicing%s)", quoted, pd->current->name,
                                     typo != NULL ? typo : ""));
      pd->other_tasks++;
    }
  return TRUE;
}

static gboolean
decl_kind_from_name (const char *name, DevbgDeviceDeclKind *kind)
{
  static const struct { const char *name; DevbgDeviceDeclKind kind; } names[] = {
    { "usb", DEVBG_DECL_USB },
    { "humaninterfacedevice", DEVBG_DECL_HID },
    { "bluetooth.rfcomm", DEVBG_DECL_BLUETOOTH_RFCOMM },
    { "bluetooth.genericAttributeProfile", DEVBG_DECL_BLUETOOTH_GATT },
    { "serialcommunication", DEVBG_DECL_SERIAL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_ascii_strcasecmp (names[i].name, name) == 0)
      {
        *kind = names[i].kind;
        return TRUE;
      }
  return FALSE;
}

static gboolean
start_device_capability (ParseData *pd, GMarkupParseContext *ctx, const char **names,
                         const char **values, GError **error)
{
  const char *name = NULL;

  if (!devbg_xml_collect (ctx, "DeviceCapability", names, values, error, "Name", &name, NULL))
    return FALSE;
  if (!decl_kind_from_name (name, &pd->decl_kind))
    {
      /* webcam, location, proximity...: Windows' business, not devbg's. */
      g_debug ("%s: DeviceCapability '%s' ignored", pd->manifest->origin, name);
      skip (pd, IN_CAPABILITIES);
      return TRUE;
    }
  pd->state = IN_DEVICE_CAPABILITY;
  return TRUE;
}

/* "VVVV PPPP", four hex digits each. */
static gboolean
parse_vidpid (const char *text, guint16 *vid, guint16 *pid)
{
  guint64 v, p;
  g_auto(GStrv) parts = g_strsplit (text, " ", -1);

  if (g_strv_length (parts) != 2 || strlen (parts[0]) != 4 || strlen (parts[1]) != 4 ||
      !g_ascii_string_to_unsigned (parts[0], 16, 0, 0xffff, &v, NULL) ||
      !g_ascii_string_to_unsigned (parts[1], 16, 0, 0xffff, &p, NULL))
    return FALSE;
  *vid = (guint16) v;
  *pid = (guint16) p;
  return TRUE;
}

static gboolean
start_device (ParseData *pd, GMarkupParseContext *ctx, const char **names,
              const char **values, GError **error)
{
  const char *id = NULL;
  DevbgDeviceDecl *decl;

  if (!devbg_xml_collect (ctx, "Device", names, values, error, "Id", &id, NULL))
    return FALSE;
  /* Every device an app's list shows is checked against each of them. */
  if (pd->manifest->devices->len >= DEVBG_MAX_DEVICE_DECLARATIONS)
    return devbg_xml_fail (ctx, error, "more than %d <Device> declarations; a manifest holds "
                           "at most %d (DEVBG_MAX_DEVICE_DECLARATIONS)",
                           DEVBG_MAX_DEVICE_DECLARATIONS, DEVBG_MAX_DEVICE_DECLARATIONS);
  decl = g_new0 (DevbgDeviceDecl, 1);
  decl->kind = pd->decl_kind;
  if (strcmp (id, "any") == 0)
    decl->any = TRUE;
  else if (g_str_has_prefix (id, "hwid:") && id[5] != '\0' && strlen (id) <= 512)
    decl->hardware_id = g_strdup (id + 5);
  else if (!g_str_has_prefix (id, "vidpid:") || !parse_vidpid (id + 7, &decl->vid, &decl->pid))
    {
      g_free (decl);
      return devbg_xml_fail (ctx, error,
                             "Device Id '%s' is not supported (\"any\", \"vidpid:VVVV PPPP\" "
                             "with four hex digits each, or \"hwid:HARDWARE-ID\")", id);
    }
  pd->decl = decl;
  pd->functions = g_ptr_array_new_with_free_func (g_free);
  pd->state = IN_DEVICE;
  return TRUE;
}

/* The Bluetooth names Windows accepts for name:, as their 128-bit UUIDs. */
static const char *
bluetooth_uuid_of_name (const char *name)
{
  static const struct { const char *name, *uuid16; } names[] = {
    { "serialPort", "1101" }, { "obexObjectPush", "1105" }, { "obexFileTransfer", "1106" },
    { "phoneBookAccessPce", "112e" }, { "phoneBookAccessPse", "112f" },
    { "genericFileTransfer", "1202" }, { "battery", "180f" }, { "bloodPressure", "1810" },
    { "cyclingSpeedAndCadence", "1816" }, { "genericAccess", "1800" },
    { "genericAttribute", "1801" }, { "glucose", "1808" }, { "healthThermometer", "1809" },
    { "heartRate", "180d" }, { "runningSpeedAndCadence", "1814" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    if (strcmp (names[i].name, name) == 0)
      return names[i].uuid16;
  return NULL;
}

static gboolean
is_hex_or_star (const char *word, gsize digits)
{
  if (strcmp (word, "*") == 0)
    return TRUE;
  if (strlen (word) != digits)
    return FALSE;
  for (const char *c = word; *c; c++)
    if (!g_ascii_isxdigit (*c))
      return FALSE;
  return TRUE;
}

/* Normalizes a Function Type for its family, or NULL if it does not fit. */
static char *
normalize_function (DevbgDeviceDeclKind kind, const char *type)
{
  g_auto(GStrv) words = NULL;

  switch (kind)
    {
    case DEVBG_DECL_USB:
      if (strcmp (type, "name:vendorSpecific") == 0)
        return g_strdup ("classid:ff * *");
      if (!g_str_has_prefix (type, "classId:"))
        return NULL;
      words = g_strsplit (type + 8, " ", -1);
      if (g_strv_length (words) != 3 || !is_hex_or_star (words[0], 2) ||
          !is_hex_or_star (words[1], 2) || !is_hex_or_star (words[2], 2))
        return NULL;
      return g_ascii_strdown (type, -1);
    case DEVBG_DECL_HID:
      if (!g_str_has_prefix (type, "usage:"))
        return NULL;
      words = g_strsplit (type + 6, " ", -1);
      if (g_strv_length (words) != 2 || !is_hex_or_star (words[0], 4) ||
          !is_hex_or_star (words[1], 4))
        return NULL;
      return g_ascii_strdown (type, -1);
    case DEVBG_DECL_BLUETOOTH_RFCOMM:
    case DEVBG_DECL_BLUETOOTH_GATT:
      if (g_str_has_prefix (type, "name:"))
        {
          const char *uuid16 = bluetooth_uuid_of_name (type + 5);
          return uuid16 ? g_strdup_printf ("serviceid:0000%s-0000-1000-8000-00805f9b34fb", uuid16)
                        : NULL;
        }
      if (g_str_has_prefix (type, "serviceId:") && g_uuid_string_is_valid (type + 10))
        return g_ascii_strdown (type, -1);
      return NULL;
    case DEVBG_DECL_SERIAL:
      return strcmp (type, "name:serialPort") == 0 ? g_strdup (type) : NULL;
    }
  return NULL;
}

static gboolean
start_function (ParseData *pd, GMarkupParseContext *ctx, const char **names,
                const char **values, GError **error)
{
  const char *type = NULL;
  char *normal;

  if (!devbg_xml_collect (ctx, "Function", names, values, error, "Type", &type, NULL))
    return FALSE;
  if (pd->functions->len >= DEVBG_MAX_DEVICE_FUNCTIONS)
    return devbg_xml_fail (ctx, error, "more than %d <Function> elements in one <Device>; it "
                           "holds at most %d (DEVBG_MAX_DEVICE_FUNCTIONS)",
                           DEVBG_MAX_DEVICE_FUNCTIONS, DEVBG_MAX_DEVICE_FUNCTIONS);
  normal = normalize_function (pd->decl_kind, type);
  if (normal == NULL)
    return devbg_xml_fail (ctx, error, "Function Type '%s' is not valid for this "
                           "DeviceCapability (usb: classId:CC SS PP or name:vendorSpecific; "
                           "humaninterfacedevice: usage:PPPP UUUU; bluetooth: serviceId:UUID "
                           "or name:NAME; serialcommunication: name:serialPort)", type);
  g_ptr_array_add (pd->functions, normal);
  pd->state = IN_FUNCTION;
  return TRUE;
}

static gboolean
end_device (ParseData *pd, GMarkupParseContext *ctx, GError **error)
{
  DevbgDeviceDecl *decl = g_steal_pointer (&pd->decl);
  g_autoptr(GPtrArray) functions = g_steal_pointer (&pd->functions);
  gboolean bluetooth = decl->kind == DEVBG_DECL_BLUETOOTH_RFCOMM ||
                       decl->kind == DEVBG_DECL_BLUETOOTH_GATT;

  /* A Bluetooth device is declared by its services: without one, "any"
   * would be every device in range. */
  if (bluetooth && functions->len == 0)
    {
      device_decl_free (decl);
      return devbg_xml_fail (ctx, error, "a Bluetooth Device needs a Function "
                             "(serviceId:UUID or name:NAME)");
    }
  g_ptr_array_add (functions, NULL);
  decl->functions = (GStrv) g_ptr_array_steal (functions, NULL);
  g_ptr_array_add (pd->manifest->devices, decl);
  return TRUE;
}

static void
on_start (GMarkupParseContext *ctx, const char *element, const char **names,
          const char **values, gpointer user_data, GError **error)
{
  ParseData *pd = user_data;
  const char *local = devbg_xml_local_name (element);

  switch (pd->state)
    {
    case IN_SKIPPED:
      pd->skip_depth++;
      return;
    case IN_NONE:
      if (pd->manifest->app_id != NULL)
        {
          devbg_xml_fail (ctx, error, "a second <%s> after <Application>; one app per manifest",
                          element);
          return;
        }
      if (strcmp (local, "Application") != 0)
        {
          devbg_xml_fail (ctx, error, "the root element is <%s>, expected <Application>", element);
          return;
        }
      if (start_application (pd, ctx, names, values, error))
        pd->state = IN_APPLICATION;
      return;
    case IN_APPLICATION:
      if (strcmp (local, "Extensions") == 0)
        pd->state = IN_EXTENSIONS;
      else if (strcmp (local, "Capabilities") == 0)
        pd->state = IN_CAPABILITIES;
      else if (strcmp (local, "Executables") == 0)
        pd->state = IN_EXECUTABLES;
      else if (strcmp (local, "VisualElements") == 0)
        {
          if (start_visual_elements (pd, ctx, names, values, error))
            skip (pd, IN_APPLICATION); /* its tiles and splash screen */
        }
      else
        {
          g_debug ("%s: <%s> ignored", pd->manifest->origin, element);
          skip (pd, IN_APPLICATION); /* visual elements and the like */
        }
      return;
    case IN_CAPABILITIES:
      if (strcmp (local, "DeviceCapability") == 0)
        start_device_capability (pd, ctx, names, values, error);
      else
        {
          /* internetClient, rescap:Capability...: not devbg's. */
          g_debug ("%s: <%s> in <Capabilities> ignored", pd->manifest->origin, element);
          skip (pd, IN_CAPABILITIES);
        }
      return;
    case IN_EXECUTABLES:
      {
        const char *path = NULL;
        if (strcmp (local, "Executable") != 0)
          {
            devbg_xml_fail (ctx, error, "unexpected <%s> in <Executables>", element);
            return;
          }
        if (!devbg_xml_collect (ctx, "Executable", names, values, error, "Path", &path, NULL))
          return;
        if (!check_executable_path (ctx, error, "Executable Path", path))
          return;
        g_ptr_array_add (pd->helpers, g_strdup (path));
        skip (pd, IN_EXECUTABLES);
        return;
      }
    case IN_DEVICE_CAPABILITY:
      if (strcmp (local, "Device") != 0)
        {
          devbg_xml_fail (ctx, error, "unexpected <%s> in <DeviceCapability>", element);
          return;
        }
      start_device (pd, ctx, names, values, error);
      return;
    case IN_DEVICE:
      if (strcmp (local, "Function") != 0)
        {
          devbg_xml_fail (ctx, error, "unexpected <%s> in <Device>", element);
          return;
        }
      start_function (pd, ctx, names, values, error);
      return;
    case IN_FUNCTION:
      devbg_xml_fail (ctx, error, "unexpected <%s> in <Function>", element);
      return;
    case IN_EXTENSIONS:
      if (strcmp (local, "Extension") != 0)
        {
          devbg_xml_fail (ctx, error, "unexpected <%s> in <Extensions>", element);
          return;
        }
      start_extension (pd, ctx, names, values, error);
      return;
    case IN_EXTENSION:
      if (strcmp (local, "BackgroundTasks") != 0)
        {
          devbg_xml_fail (ctx, error, "unexpected <%s> in <Extension>", element);
          return;
        }
      pd->state = IN_BACKGROUND_TASKS;
      return;
    case IN_BACKGROUND_TASKS:
      if (strcmp (local, "Task") != 0)
        {
          devbg_xml_fail (ctx, error, "unexpected <%s> in <BackgroundTasks>", element);
          return;
        }
      if (start_task (pd, ctx, names, values, error))
        pd->state = IN_TASK;
      return;
    case IN_TASK:
      devbg_xml_fail (ctx, error, "unexpected <%s> in <Task>", element);
      return;
    }
}

static gboolean
add_entry_point (ParseData *pd, GMarkupParseContext *ctx, GError **error)
{
  DevbgEntryPoint *ep = g_steal_pointer (&pd->current);
  GPtrArray *eps = pd->manifest->entry_points;

  if (ep->triggers == 0 && pd->other_tasks > 0)
    {
      g_debug ("%s: entry point '%s' has no device task; ignored", pd->manifest->origin, ep->name);
      entry_point_free (ep);
      return TRUE;
    }
  if (ep->triggers == 0)
    {
      devbg_xml_fail (ctx, error, "entry point '%s' declares no task type", ep->name);
      entry_point_free (ep);
      return FALSE;
    }
  for (guint i = 0; i < eps->len; i++)
    {
      DevbgEntryPoint *other = g_ptr_array_index (eps, i);
      if (strcmp (other->name, ep->name) != 0)
        continue;
      if (strcmp (other->executable, ep->executable) != 0)
        {
          devbg_xml_fail (ctx, error, "entry point '%s' is declared twice with different executables",
                          ep->name);
          entry_point_free (ep);
          return FALSE;
        }
      other->triggers |= ep->triggers;
      entry_point_free (ep);
      return TRUE;
    }
  g_ptr_array_add (eps, ep); /* within DEVBG_MAX_ENTRY_POINTS: see start_task() */
  return TRUE;
}

static void
on_end (GMarkupParseContext *ctx, const char *element, gpointer user_data, GError **error)
{
  ParseData *pd = user_data;

  (void) element;
  switch (pd->state)
    {
    case IN_SKIPPED:
      if (--pd->skip_depth == 0)
        pd->state = pd->skip_return;
      return;
    case IN_TASK:
      pd->state = IN_BACKGROUND_TASKS;
      return;
    case IN_BACKGROUND_TASKS:
      pd->state = IN_EXTENSION;
      return;
    case IN_EXTENSION:
      if (add_entry_point (pd, ctx, error))
        pd->state = IN_EXTENSIONS;
      return;
    case IN_EXTENSIONS:
    case IN_CAPABILITIES:
    case IN_EXECUTABLES:
      pd->state = IN_APPLICATION;
      return;
    case IN_DEVICE_CAPABILITY:
      pd->state = IN_CAPABILITIES;
      return;
    case IN_DEVICE:
      if (end_device (pd, ctx, error))
        pd->state = IN_DEVICE_CAPABILITY;
      return;
    case IN_FUNCTION:
      pd->state = IN_DEVICE;
      return;
    case IN_APPLICATION:
      pd->state = IN_NONE;
      return;
    case IN_NONE:
      return;
    }
}

static const GMarkupParser parser = {
  .start_element = on_start,
  .end_element = on_end,
  .text = devbg_xml_text_whitespace_only,
};

DevbgManifest *
devbg_manifest_parse (const char *data, gssize length, const char *origin, GError **error)
{
  g_autoptr(DevbgManifest) manifest = g_new0 (DevbgManifest, 1);
  g_autoptr(GPtrArray) helpers = g_ptr_array_new_with_free_func (g_free);
  ParseData pd = { .manifest = manifest, .state = IN_NONE, .helpers = helpers };
  g_autoptr(GMarkupParseContext) ctx = NULL;
  g_autoptr(GError) local_error = NULL;

  manifest->ref_count = 1;
  manifest->origin = g_strdup (origin);
  manifest->entry_points = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_point_free);
  manifest->devices = g_ptr_array_new_with_free_func ((GDestroyNotify) device_decl_free);
  manifest->ignored = g_ptr_array_new_with_free_func (g_free);

  ctx = g_markup_parse_context_new (&parser, G_MARKUP_PREFIX_ERROR_POSITION, &pd, NULL);
  if (!g_markup_parse_context_parse (ctx, data, length, &local_error) ||
      !g_markup_parse_context_end_parse (ctx, &local_error))
    {
      if (pd.current != NULL)
        entry_point_free (pd.current);
      if (pd.decl != NULL)
        device_decl_free (pd.decl);
      g_clear_pointer (&pd.functions, g_ptr_array_unref);
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_MANIFEST, "%s: %s", origin,
                   local_error->message);
      return NULL;
    }
  if (manifest->app_id == NULL)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_MANIFEST,
                   "%s: no <Application> element", origin);
      return NULL;
    }
  if (helpers->len > 0)
    {
      g_ptr_array_add (helpers, NULL);
      manifest->helpers = (GStrv) g_ptr_array_steal (helpers, NULL);
    }
  return g_steal_pointer (&manifest);
}

DevbgManifest *
devbg_manifest_ref (DevbgManifest *manifest)
{
  g_atomic_int_inc (&manifest->ref_count);
  return manifest;
}

void
devbg_manifest_unref (DevbgManifest *manifest)
{
  if (!g_atomic_int_dec_and_test (&manifest->ref_count))
    return;
  g_free (manifest->origin);
  g_free (manifest->app_id);
  g_free (manifest->display_name);
  g_free (manifest->executable);
  free (manifest->executable_real);
  g_strfreev (manifest->helpers);
  g_strfreev (manifest->helpers_real);
  g_ptr_array_unref (manifest->entry_points);
  g_ptr_array_unref (manifest->devices);
  g_ptr_array_unref (manifest->ignored);
  if (manifest->flatpak != NULL)
    manifest->flatpak_free (manifest->flatpak);
  g_free (manifest);
}

const DevbgEntryPoint *
devbg_manifest_find_entry_point (const DevbgManifest *manifest, const char *name)
{
  for (guint i = 0; i < manifest->entry_points->len; i++)
    {
      const DevbgEntryPoint *ep = g_ptr_array_index (manifest->entry_points, i);
      if (strcmp (ep->name, name) == 0)
        return ep;
    }
  return NULL;
}

char *
devbg_manifest_list_entry_points (const DevbgManifest *manifest)
{
  GString *s = g_string_new (NULL);
  guint n = manifest->entry_points->len;

  for (guint i = 0; i < n && i < MAX_LISTED_ENTRY_POINTS; i++)
    {
      const DevbgEntryPoint *ep = g_ptr_array_index (manifest->entry_points, i);
      g_string_append_printf (s, "%s'%s' (%s%s%s)", i ? ", " : "", ep->name,
                              (ep->triggers & (1u << DEVBG_TRIGGER_USE)) ? "deviceUse" : "",
                              ep->triggers == 3 ? ", " : "",
                              (ep->triggers & (1u << DEVBG_TRIGGER_SERVICING)) ? "deviceServicing" : "");
    }
  if (n > MAX_LISTED_ENTRY_POINTS)
    g_string_append_printf (s, " and %u more", n - MAX_LISTED_ENTRY_POINTS);
  if (s->len == 0)
    g_string_append (s, "none");
  return g_string_free (s, FALSE);
}

char *
devbg_manifest_describe_ignored (const DevbgManifest *manifest)
{
  GString *s;

  if (manifest->ignored->len == 0)
    return NULL;
  s = g_string_new (NULL);
  for (guint i = 0; i < manifest->ignored->len; i++)
    g_string_append_printf (s, "%s%s", i ? "; " : "",
                            (const char *) g_ptr_array_index (manifest->ignored, i));
  if (manifest->n_ignored > manifest->ignored->len)
    g_string_append_printf (s, " and %u more", manifest->n_ignored - manifest->ignored->len);
  return g_string_free (s, FALSE);
}

char *
devbg_manifest_describe (const DevbgManifest *manifest)
{
  g_autofree char *ignored = devbg_manifest_describe_ignored (manifest);
  guint n = manifest->entry_points->len;

  return g_strdup_printf ("%u entry point%s%s%s", n, n == 1 ? "" : "s",
                          ignored != NULL ? "; ignored: " : "", ignored != NULL ? ignored : "");
}

/* ---- which devices the manifest declares ---- */

static gboolean
id_has_prefix (const char *id, const char *prefix)
{
  return g_ascii_strncasecmp (id, prefix, strlen (prefix)) == 0;
}

/* Whether @needle is in @id, ASCII letters in any case. Without a copy:
 * ListDevices asks this of every device for an app (1,000 devices, each
 * with a few IDs, for each device its manifest declares). */
static gboolean
id_contains (const char *id, const char *needle)
{
  gsize length = strlen (needle);

  for (; *id != '\0'; id++)
    if (g_ascii_strncasecmp (id, needle, length) == 0)
      return TRUE;
  return length == 0;
}

/* USB\VID_1209&PID_B0A1..., HID\VID_...; Bluetooth's
 * BTHENUM\{uuid}_VID&00021209_PID&B0A1 (source 0001 or 0002). */
static gboolean
ids_match_vidpid (const char *const *ids, guint16 vid, guint16 pid)
{
  char usb[sizeof "VID_FFFF&PID_FFFF"], bt1[sizeof "VID&0001FFFF_PID&FFFF"],
    bt2[sizeof "VID&0002FFFF_PID&FFFF"];

  g_snprintf (usb, sizeof usb, "VID_%04X&PID_%04X", vid, pid);
  g_snprintf (bt1, sizeof bt1, "VID&0001%04X_PID&%04X", vid, pid);
  g_snprintf (bt2, sizeof bt2, "VID&0002%04X_PID&%04X", vid, pid);

  for (const char *const *id = ids; *id; id++)
    if (id_contains (*id, usb) || id_contains (*id, bt1) || id_contains (*id, bt2))
      return TRUE;
  return FALSE;
}

static gboolean
ids_have_prefix (const char *const *ids, const char *prefix)
{
  for (const char *const *id = ids; *id; id++)
    if (id_has_prefix (*id, prefix))
      return TRUE;
  return FALSE;
}

/* "cc", "*" against a two-hex-digit field of a class ID. */
static gboolean
field_matches (const char *want, const char *have)
{
  return strcmp (want, "*") == 0 || g_ascii_strcasecmp (want, have) == 0;
}

/* USB functions: checked against USB\Class_cc&SubClass_ss&Prot_pp when
 * the device's IDs carry its class; a device that does not say its class
 * is matched by its vendor and product alone. */
static gboolean
usb_function_matches (const char *function, const char *const *ids)
{
  g_auto(GStrv) want = g_strsplit (function + strlen ("classId:"), " ", 3);
  gboolean class_known = FALSE;

  for (const char *const *id = ids; *id; id++)
    {
      char c[3] = "", s[3] = "", p[3] = "";
      if (!id_has_prefix (*id, "USB\\Class_") ||
          sscanf (*id, "USB\\Class_%2[0-9a-fA-F]&SubClass_%2[0-9a-fA-F]&Prot_%2[0-9a-fA-F]",
                  c, s, p) != 3)
        continue;
      class_known = TRUE;
      if (field_matches (want[0], c) && field_matches (want[1], s) && field_matches (want[2], p))
        return TRUE;
    }
  return !class_known;
}

/* HID usages: HID_DEVICE_UP:PPPP_U:UUUU when the device's IDs carry them. */
static gboolean
hid_function_matches (const char *function, const char *const *ids)
{
  g_auto(GStrv) want = g_strsplit (function + strlen ("usage:"), " ", 2);
  gboolean usage_known = FALSE;

  for (const char *const *id = ids; *id; id++)
    {
      char page[5] = "", usage[5] = "";
      if (!id_has_prefix (*id, "HID_DEVICE_UP:") ||
          sscanf (*id, "HID_DEVICE_UP:%4[0-9a-fA-F]_U:%4[0-9a-fA-F]", page, usage) != 2)
        continue;
      usage_known = TRUE;
      if (field_matches (want[0], page) && field_matches (want[1], usage))
        return TRUE;
    }
  return !usage_known;
}

static gboolean
functions_match (const DevbgDeviceDecl *decl, const char *const *ids)
{
  if (decl->functions == NULL || decl->functions[0] == NULL)
    return TRUE;
  for (char **f = decl->functions; *f; f++)
    {
      if (g_str_has_prefix (*f, "classid:") && usb_function_matches (*f, ids))
        return TRUE;
      if (g_str_has_prefix (*f, "usage:") && hid_function_matches (*f, ids))
        return TRUE;
      if (g_str_has_prefix (*f, "serviceid:"))
        {
          g_autofree char *braced = g_strdup_printf ("{%s}", *f + strlen ("serviceid:"));
          for (const char *const *id = ids; *id; id++)
            if (id_contains (*id, braced))
              return TRUE;
        }
      if (strcmp (*f, "name:serialPort") == 0)
        return TRUE;
    }
  return FALSE;
}

static gboolean
decl_covers (const DevbgDeviceDecl *decl, DevbgProtocol protocol, const char *const *ids)
{
  /* devbg's own form, for devices that have no vendor and product (a
   * vendor's ioctl node that a udev rule names): one exact hardware ID,
   * whatever the capability's name. */
  if (decl->hardware_id != NULL)
    {
      for (const char *const *id = ids; *id != NULL; id++)
        if (g_ascii_strcasecmp (*id, decl->hardware_id) == 0)
          return TRUE;
      return FALSE;
    }
  switch (decl->kind)
    {
    case DEVBG_DECL_USB:
      /* An MTP device and a vendor's ioctl function of a USB device are
       * USB devices: the usb capability names them by vendor and product. */
      if ((protocol != DEVBG_PROTOCOL_USB && protocol != DEVBG_PROTOCOL_MTP &&
           protocol != DEVBG_PROTOCOL_GENERIC_IOCTL) || !ids_have_prefix (ids, "USB\\"))
        return FALSE;
      break;
    case DEVBG_DECL_HID:
      if (protocol != DEVBG_PROTOCOL_HID)
        return FALSE;
      break;
    case DEVBG_DECL_BLUETOOTH_RFCOMM:
      if (protocol != DEVBG_PROTOCOL_BLUETOOTH_RFCOMM)
        return FALSE;
      break;
    case DEVBG_DECL_BLUETOOTH_GATT:
      if (protocol != DEVBG_PROTOCOL_BLUETOOTH_GATT)
        return FALSE;
      break;
    case DEVBG_DECL_SERIAL:
      if (decl->any)
        return FALSE; /* a serial port is named by its USB vendor and product */
      break;
    }
  if (!decl->any && !ids_match_vidpid (ids, decl->vid, decl->pid))
    return FALSE;
  return functions_match (decl, ids);
}

gboolean
devbg_manifest_declares_device (const DevbgManifest *manifest, DevbgProtocol protocol,
                                const char *const *hardware_ids)
{
  for (guint i = 0; i < manifest->devices->len; i++)
    if (decl_covers (g_ptr_array_index (manifest->devices, i), protocol, hardware_ids))
      return TRUE;
  return FALSE;
}

/* Programs that run other programs named on their command line or in a
 * script's #! line, by base name without version suffix. */
static const char *const interpreter_names[] = {
  "sh", "bash", "dash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "ash", "busybox", "env",
  "python", "pypy", "perl", "ruby", "node", "nodejs", "deno", "bun", "java", "php", "lua",
  "luajit", "tclsh", "wish", "guile", "gjs", "cjs", "Rscript", "awk", "gawk", "mawk", "expect",
  "osh", "elixir", "erl", "escript", "mono", "dotnet", "qemu", NULL,
};

/* "python3.11" -> "python", "guile-3.0" -> "guile", "qemu-x86_64" -> "qemu". */
static char *
strip_version (const char *base)
{
  g_autofree char *name = g_strdup (base);
  gsize len = strlen (name);
  char *dash;

  while (len > 0 && (g_ascii_isdigit (name[len - 1]) || name[len - 1] == '.' ||
                     name[len - 1] == '-' || name[len - 1] == '_'))
    name[--len] = '\0';
  if (g_str_has_prefix (name, "qemu-") && (dash = strchr (name, '-')) != NULL)
    *dash = '\0';
  return g_steal_pointer (&name);
}

static gboolean
name_is_interpreter (const char *path, char **why)
{
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *name = strip_version (base);

  /* The dynamic loader runs any program given to it: ld.so /usr/bin/app. */
  if (g_str_has_prefix (base, "ld-linux") || g_str_has_prefix (base, "ld.so") ||
      g_str_has_prefix (base, "ld64.so") || g_str_has_prefix (base, "ld-musl"))
    {
      if (why != NULL)
        *why = g_strdup_printf ("%s is the dynamic loader", path);
      return TRUE;
    }
  if (g_strv_contains (interpreter_names, name))
    {
      if (why != NULL)
        *why = g_strdup_printf ("%s is the %s interpreter", path, name);
      return TRUE;
    }
  return FALSE;
}

gboolean
devbg_executable_is_interpreter (const char *path, const char *const *shells, char **why)
{
  if (path == NULL)
    return FALSE;
  if (name_is_interpreter (path, why))
    return TRUE;
  for (const char *const *sh = shells; sh != NULL && *sh != NULL; sh++)
    if (strcmp (*sh, path) == 0)
      {
        if (why != NULL)
          *why = g_strdup_printf ("%s is a login shell (listed in /etc/shells)", path);
        return TRUE;
      }
  return FALSE;
}

/* /etc/shells as canonical paths, so that /bin/sh and /usr/bin/sh and
 * /usr/bin/dash (its target) all count. */
static GStrv
read_shells (const char *shells_file)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GPtrArray) out = g_ptr_array_new ();

  if (shells_file == NULL || !g_file_get_contents (shells_file, &text, NULL, NULL))
    return NULL;
  lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    {
      char *line = g_strstrip (*l);
      char *real;

      if (*line != '/')
        continue;
      g_ptr_array_add (out, g_strdup (line));
      if ((real = realpath (line, NULL)) != NULL)
        {
          g_ptr_array_add (out, g_strdup (real));
          free (real);
        }
    }
  g_ptr_array_add (out, NULL);
  return (GStrv) g_ptr_array_free (g_steal_pointer (&out), FALSE);
}

/* Parses @path; NULL (with a problem appended) when it cannot be read or
 * parsed, or names an interpreter as its Executable. */
/* The app's helpers: each resolved once, and none an interpreter (an
 * interpreter runs every script written for it, so it names no app). */
static gboolean
resolve_helpers (DevbgManifest *m, const char *const *shells, GPtrArray *problems)
{
  g_autoptr(GPtrArray) real = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *why = NULL;

  for (char **h = m->helpers; h != NULL && *h != NULL; h++)
    {
      char *r = realpath (*h, NULL);
      if (devbg_executable_is_interpreter (*h, shells, &why) ||
          (r != NULL && devbg_executable_is_interpreter (r, shells, &why)))
        {
          g_ptr_array_add (problems,
                           g_strdup_printf ("%s: app %s names Executable %s, but %s, which runs "
                                            "every script written for it and cannot identify "
                                            "one app", m->origin, m->app_id, *h, why));
          free (r);
          return FALSE;
        }
      if (r != NULL)
        {
          g_ptr_array_add (real, g_strdup (r));
          free (r);
        }
    }
  if (real->len > 0)
    {
      g_ptr_array_add (real, NULL);
      m->helpers_real = (GStrv) g_ptr_array_steal (real, NULL);
    }
  return TRUE;
}

static DevbgManifest *
load_one (const char *path, const char *const *shells, GPtrArray *problems)
{
  g_autofree char *data = NULL;
  g_autofree char *why = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(DevbgManifest) m = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &data, &len, &error))
    {
      g_ptr_array_add (problems, g_strdup (error->message));
      return NULL;
    }
  m = devbg_manifest_parse (data, (gssize) len, path, &error);
  if (m == NULL)
    {
      g_ptr_array_add (problems, g_strdup (error->message));
      return NULL;
    }
  if (!resolve_helpers (m, shells, problems))
    return NULL;
  if (m->executable == NULL)
    return g_steal_pointer (&m);
  /* Resolved once: /proc/PID/exe is compared with it. */
  m->executable_real = realpath (m->executable, NULL);
  if (devbg_executable_is_interpreter (m->executable, shells, &why) ||
      (m->executable_real != NULL &&
       devbg_executable_is_interpreter (m->executable_real, shells, &why)))
    {
      g_ptr_array_add (problems,
                       g_strdup_printf ("%s: app %s names Executable %s, but %s, which runs "
                                        "every script written for it and cannot identify one "
                                        "app; identify it by its systemd unit or Flatpak ID "
                                        "and leave Executable out", path, m->app_id,
                                        m->executable, why));
      return NULL;
    }
  return g_steal_pointer (&m);
}

static const char *
executable_key (const DevbgManifest *m)
{
  return m->executable_real != NULL ? m->executable_real : m->executable;
}

gboolean
devbg_manifest_owns_executable (const DevbgManifest *m, const char *exe)
{
  if (m->executable_real != NULL && strcmp (m->executable_real, exe) == 0)
    return TRUE;
  return m->helpers_real != NULL && g_strv_contains ((const char *const *) m->helpers_real, exe);
}

/* Is @path, which did not resolve when @m was loaded, @exe now? */
static gboolean
missing_path_is (const DevbgManifest *m, const char *path, const char *exe,
                 gboolean may_resolve)
{
  g_autofree char *real = NULL;
  char *r;

  if (devbg_manifest_owns_executable (m, exe))
    return FALSE; /* resolved at load, and not missing */
  if (strcmp (path, exe) == 0)
    return TRUE;
  if (!may_resolve || (r = realpath (path, NULL)) == NULL)
    return FALSE;
  real = g_strdup (r);
  free (r);
  return strcmp (real, exe) == 0;
}

gboolean
devbg_manifests_executable_appeared (GHashTable *apps, const char *exe, gboolean may_resolve)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, apps);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      const DevbgManifest *m = value;
      guint n_helpers = m->helpers != NULL ? g_strv_length (m->helpers) : 0;
      guint n_real = m->helpers_real != NULL ? g_strv_length (m->helpers_real) : 0;

      if (m->flatpak != NULL)
        continue; /* a sandbox's paths, never an identity on the host */
      if (m->executable != NULL && m->executable_real == NULL &&
          missing_path_is (m, m->executable, exe, may_resolve))
        return TRUE;
      /* Only when one of them did not resolve. */
      for (guint i = 0; n_real < n_helpers && i < n_helpers; i++)
        if (missing_path_is (m, m->helpers[i], exe, may_resolve))
          return TRUE;
    }
  return FALSE;
}

/* Every executable of @m, canonical where it exists, main one first. */
static GPtrArray *
executable_keys (const DevbgManifest *m)
{
  GPtrArray *keys = g_ptr_array_new ();

  if (executable_key (m) != NULL)
    g_ptr_array_add (keys, (gpointer) executable_key (m));
  for (char **h = m->helpers_real; h != NULL && *h != NULL; h++)
    g_ptr_array_add (keys, *h);
  return keys;
}

static gboolean
shares_executable (const DevbgManifest *a, const DevbgManifest *b, const char **which)
{
  g_autoptr(GPtrArray) ka = executable_keys (a);
  g_autoptr(GPtrArray) kb = executable_keys (b);

  for (guint i = 0; i < ka->len; i++)
    for (guint j = 0; j < kb->len; j++)
      if (strcmp (g_ptr_array_index (ka, i), g_ptr_array_index (kb, j)) == 0)
        {
          *which = g_ptr_array_index (ka, i);
          return TRUE;
        }
  return FALSE;
}

/* Marks in @refused (origin set) every manifest of @all that shares
 * @what (app ID or Executable) with another, with one problem each naming
 * the others. */
static void
refuse_conflicts (GPtrArray *all, gboolean by_executable, GHashTable *refused,
                  GPtrArray *problems)
{
  for (guint i = 0; i < all->len; i++)
    {
      DevbgManifest *m = g_ptr_array_index (all, i);
      const char *key = by_executable ? NULL : m->app_id;
      g_autoptr(GString) others = g_string_new (NULL);

      for (guint j = 0; j < all->len; j++)
        {
          DevbgManifest *o = g_ptr_array_index (all, j);

          if (j == i || !(by_executable ? shares_executable (m, o, &key)
                                        : strcmp (key, o->app_id) == 0))
            continue;
          g_string_append_printf (others, "%s%s (app %s)", others->len > 0 ? ", " : "",
                                    o->origin, o->app_id);
        }
      if (others->len == 0)
        continue;
      g_hash_table_add (refused, m->origin);
      if (by_executable)
        g_ptr_array_add (problems,
                         g_strdup_printf ("%s: app %s claims Executable %s, which %s also "
                                          "claims; an executable identifies one app, so none "
                                          "of them is loaded", m->origin, m->app_id, key,
                                          others->str));
      else
        g_ptr_array_add (problems,
                         g_strdup_printf ("%s: app ID %s is also declared by %s; none of "
                                          "them is loaded", m->origin, m->app_id, others->str));
    }
}

GHashTable *
devbg_manifests_load_full (const char *const *dirs, const char *shells_file, GPtrArray *problems)
{
  GHashTable *apps = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                            (GDestroyNotify) devbg_manifest_unref);
  g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func ((GDestroyNotify) devbg_manifest_unref);
  g_autoptr(GHashTable) refused = g_hash_table_new (g_str_hash, g_str_equal);
  g_auto(GStrv) shells = read_shells (shells_file);

  for (const char *const *dir = dirs; dir != NULL && *dir != NULL; dir++)
    {
      g_autoptr(GPtrArray) files = devbg_xml_list_dir (*dir, problems);

      for (guint i = 0; i < files->len; i++)
        {
          DevbgManifest *m = load_one (g_ptr_array_index (files, i),
                                       (const char *const *) shells, problems);
          if (m != NULL)
            g_ptr_array_add (all, m);
        }
    }

  refuse_conflicts (all, FALSE, refused, problems);
  refuse_conflicts (all, TRUE, refused, problems);
  for (guint i = 0; i < all->len; i++)
    {
      DevbgManifest *m = g_ptr_array_index (all, i);
      if (!g_hash_table_contains (refused, m->origin))
        g_hash_table_insert (apps, m->app_id, devbg_manifest_ref (m));
    }
  return apps;
}

GHashTable *
devbg_manifests_load (const char *const *dirs, GPtrArray *problems)
{
  return devbg_manifests_load_full (dirs, "/etc/shells", problems);
}
