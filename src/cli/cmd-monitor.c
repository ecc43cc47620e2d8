/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * devbgctl monitor: a full-screen live view of the task instances the
 * caller may see, over libdevbg's task watch (devbg_client_watch_tasks):
 * app, device, trigger, progress, elapsed time against the trigger's limit,
 * and devbgd's status (the policy state it reports). It redraws when
 * something happens (a task event, a key, a resize), never on a timer, so
 * an idle system costs nothing; the elapsed times are as of the last
 * redraw. Keys: up/down (or k/j) select, c cancels the selected instance,
 * q quits. The terminal is left as it was found: its mode, the cursor and
 * the screen (the view is drawn on the alternate screen).
 */
#include "devbgctl.h"

#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#define MAX_ENDED 5
#define BAR_WIDTH 20

typedef struct {
  DevbgClient    *client;
  GMainLoop      *loop;
  GPtrArray      *running;   /* DevbgTaskInfo, by start time */
  GPtrArray      *ended;     /* DevbgTaskInfo, newest first, at most MAX_ENDED */
  GVariant       *status;    /* GetStatus, or NULL */
  guint           selected;
  char           *message;   /* the last action's outcome, or NULL */
  struct termios  saved;
  gboolean        raw;
  int             status_pending; /* GetStatus calls in flight */
  GCancellable   *cancellable;    /* the calls in flight, cut when the monitor ends */
} Monitor;

/* ---- the terminal: raw mode on the alternate screen, and back */

static gboolean
terminal_enter (Monitor *m)
{
  struct termios raw;

  if (tcgetattr (STDIN_FILENO, &m->saved) != 0)
    return FALSE;
  raw = m->saved;
  raw.c_lflag &= ~(ICANON | ECHO);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  if (tcsetattr (STDIN_FILENO, TCSANOW, &raw) != 0)
    return FALSE;
  m->raw = TRUE;
  /* The alternate screen, cursor hidden. */
  fputs ("\033[?1049h\033[?25l", stdout);
  fflush (stdout);
  return TRUE;
}

static void
terminal_leave (Monitor *m)
{
  if (!m->raw)
    return;
  fputs ("\033[?25h\033[?1049l", stdout);
  fflush (stdout);
  tcsetattr (STDIN_FILENO, TCSANOW, &m->saved);
  m->raw = FALSE;
}

static guint
terminal_columns (void)
{
  struct winsize ws;

  if (ioctl (STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
    return ws.ws_col;
  return 80;
}

/* ---- drawing */

static void
put_line (GString *screen, guint columns, const char *text)
{
  /* What apps, tasks and devices said cannot drive the terminal; cut to
   * the width (in bytes), cleared to the end of the line so that nothing
   * of the last frame stays. */
  g_autofree char *printable = devbgctl_printable (text, FALSE);

  g_string_append_len (screen, printable, MIN (strlen (printable), columns));
  g_string_append (screen, "\033[K\r\n");
}

static char *
progress_bar (guint progress)
{
  GString *s = g_string_new ("[");

  for (guint i = 0; i < BAR_WIDTH; i++)
    g_string_append_c (s, progress <= 100 && i < progress * BAR_WIDTH / 100 ? '#' : '-');
  g_string_append_printf (s, "] %3u%%", progress);
  return g_string_free (s, FALSE);
}

static char *
status_line (Monitor *m)
{
  /* Everything GetStatus says but the caller's own identity and counts:
   * the policy state (battery, power, session) as devbgd reports it. */
  static const char *const skip[] = { "app-id", "identity", "uid", "manifests", "metadata",
                                      "registrations", NULL };
  GString *s = g_string_new ("devbgd");
  GVariantIter iter;
  const char *key;
  GVariant *value;

  if (m->status == NULL)
    return g_string_free (s, FALSE);
  g_variant_iter_init (&iter, m->status);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      if (!g_strv_contains (skip, key))
        {
          g_autofree char *text = g_variant_is_of_type (value, G_VARIANT_TYPE_STRING)
            ? g_variant_dup_string (value, NULL) : g_variant_print (value, FALSE);
          g_string_append_printf (s, "  %s: %s", key, text);
        }
      g_variant_unref (value);
    }
  return g_string_free (s, FALSE);
}

static void
redraw (Monitor *m)
{
  g_autoptr(GString) screen = g_string_new ("\033[H");
  guint columns = terminal_columns ();
  g_autofree char *status = status_line (m);
  g_autofree char *header = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *clock = g_date_time_format (now, "%H:%M:%S");
  gint64 now_us = g_get_real_time ();

  header = g_strdup_printf ("devbgctl monitor  %s  (redrawn on events)   up/down select  "
                            "c cancel  q quit", clock);
  put_line (screen, columns, header);
  put_line (screen, columns, status);
  put_line (screen, columns, "");
  put_line (screen, columns, "  APP                       DEVICE                  TRIGGER    "
                             "PROGRESS                    ELAPSED/LIMIT  STATE");
  if (m->running->len == 0)
    put_line (screen, columns, "  (no running tasks)");
  for (guint i = 0; i < m->running->len; i++)
    {
      DevbgTaskInfo *t = g_ptr_array_index (m->running, i);
      g_autofree char *bar = progress_bar (devbg_task_info_get_progress (t));
      gint64 elapsed = MAX (0, (now_us - devbg_task_info_get_started_us (t)) / G_USEC_PER_SEC);
      g_autofree char *limit = g_strdup_printf ("%us", devbg_task_info_get_limit_s (t));
      g_autofree char *line = g_strdup_printf (
        "%s %-25s %-23s %-10s %s  %6" G_GINT64_FORMAT "s/%-6s %s", i == m->selected ? ">" : " ",
        devbg_task_info_get_app_id (t), devbg_task_info_get_device_id (t),
        devbg_trigger_type_to_string (devbg_task_info_get_trigger_type (t)), bar, elapsed,
        limit, devbg_task_info_get_state (t));

      put_line (screen, columns, line);
    }
  put_line (screen, columns, "");
  put_line (screen, columns, "  ENDED");
  for (guint i = 0; i < m->ended->len; i++)
    {
      DevbgTaskInfo *t = g_ptr_array_index (m->ended, i);
      gboolean ok = devbg_task_info_get_success (t);
      g_autofree char *line = g_strdup_printf (
        "  %-25s %-23s %s%s%s", devbg_task_info_get_app_id (t), devbg_task_info_get_device_id (t),
        ok ? "ok" : "failed", ok ? "" : ": ", ok ? "" : devbg_task_info_get_error_message (t));

      put_line (screen, columns, line);
    }
  put_line (screen, columns, "");
  put_line (screen, columns, m->message != NULL ? m->message : "");
  g_string_append (screen, "\033[J");
  fwrite (screen->str, 1, screen->len, stdout);
  fflush (stdout);
}

/* ---- the model, moved by events */

static gint
by_start (gconstpointer a, gconstpointer b)
{
  gint64 x = devbg_task_info_get_started_us (*(DevbgTaskInfo **) a);
  gint64 y = devbg_task_info_get_started_us (*(DevbgTaskInfo **) b);

  return x < y ? -1 : x > y;
}

static gboolean
find_running (Monitor *m, const char *instance_id, guint *index)
{
  for (guint i = 0; i < m->running->len; i++)
    if (g_str_equal (devbg_task_info_get_instance_id (g_ptr_array_index (m->running, i)),
                     instance_id))
      {
        *index = i;
        return TRUE;
      }
  return FALSE;
}

static void
on_status (GObject *source, GAsyncResult *result, gpointer data)
{
  Monitor *m = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) status = devbg_client_get_status_finish (DEVBG_CLIENT (source), result,
                                                               &error);

  /* Canceled: the monitor is gone, and @m with it. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  m->status_pending--;
  if (status == NULL)
    return;
  g_clear_pointer (&m->status, g_variant_unref);
  m->status = g_steal_pointer (&status);
  redraw (m);
}

/* devbgd's status follows what happens: asked again on each task start
 * and end (not on progress), one call at a time. */
static void
refresh_status (Monitor *m)
{
  if (m->status_pending > 0)
    return;
  m->status_pending++;
  devbg_client_get_status_async (m->client, m->cancellable, on_status, m);
}

static void
on_task_changed (DevbgClient *client, DevbgTaskInfo *task, Monitor *m)
{
  guint i;

  if (find_running (m, devbg_task_info_get_instance_id (task), &i))
    {
      g_object_unref (g_ptr_array_index (m->running, i));
      g_ptr_array_index (m->running, i) = g_object_ref (task);
    }
  else
    {
      g_ptr_array_add (m->running, g_object_ref (task));
      g_ptr_array_sort (m->running, by_start);
      refresh_status (m);
    }
  redraw (m);
}

static void
on_task_ended (DevbgClient *client, DevbgTaskInfo *task, Monitor *m)
{
  guint i;

  if (find_running (m, devbg_task_info_get_instance_id (task), &i))
    g_ptr_array_remove_index (m->running, i);
  g_ptr_array_insert (m->ended, 0, g_object_ref (task));
  if (m->ended->len > MAX_ENDED)
    g_ptr_array_set_size (m->ended, MAX_ENDED);
  if (m->selected > 0 && m->selected >= m->running->len)
    m->selected = m->running->len - 1;
  refresh_status (m);
  redraw (m);
}

static void
on_canceled (GObject *source, GAsyncResult *result, gpointer data)
{
  Monitor *m = data;
  g_autoptr(GError) error = NULL;
  gboolean ok = devbg_client_cancel_finish (DEVBG_CLIENT (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_free (m->message);
  m->message = ok
    ? g_strdup ("  cancel sent")
    : g_strdup_printf ("  cannot cancel: %s", error->message);
  redraw (m);
}

static void
cancel_selected (Monitor *m)
{
  DevbgTaskInfo *t;

  if (m->selected >= m->running->len)
    return;
  t = g_ptr_array_index (m->running, m->selected);
  g_free (m->message);
  m->message = g_strdup_printf ("  canceling %s ...", devbg_task_info_get_instance_id (t));
  devbg_client_cancel_async (m->client, devbg_task_info_get_instance_id (t), m->cancellable,
                             on_canceled, m);
}

/* ---- input */

static gboolean
on_key (int fd, GIOCondition condition, gpointer data)
{
  Monitor *m = data;
  char buf[16];
  ssize_t n = read (fd, buf, sizeof buf);

  /* The source stays until the monitor ends, which removes it. */
  if (n <= 0)
    {
      g_main_loop_quit (m->loop);
      return G_SOURCE_CONTINUE;
    }
  for (ssize_t i = 0; i < n; i++)
    {
      /* Arrow keys arrive as ESC [ A / ESC [ B. */
      if (buf[i] == '\033' && i + 2 < n && buf[i + 1] == '[')
        {
          buf[i] = buf[i + 2] == 'A' ? 'k' : buf[i + 2] == 'B' ? 'j' : ' ';
          memmove (buf + i + 1, buf + i + 3, (size_t) (n - i - 3));
          n -= 2;
        }
      switch (buf[i])
        {
        case 'q':
        case 'Q':
          g_main_loop_quit (m->loop);
          return G_SOURCE_CONTINUE;
        case 'k':
          if (m->selected > 0)
            m->selected--;
          break;
        case 'j':
          if (m->selected + 1 < m->running->len)
            m->selected++;
          break;
        case 'c':
        case 'C':
          cancel_selected (m);
          break;
        default:
          break;
        }
    }
  redraw (m);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_quit_signal (gpointer data)
{
  Monitor *m = data;

  g_main_loop_quit (m->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_resize (gpointer data)
{
  redraw (data);
  return G_SOURCE_CONTINUE;
}

static void
on_closed (GDBusConnection *connection, gboolean vanished, GError *error, gpointer data)
{
  Monitor *m = data;

  g_main_loop_quit (m->loop);
}

int
devbgctl_cmd_monitor (Devbgctl *ctl, int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tasks = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  Monitor m = { 0 };
  guint sources[4];

  if (argc > 1 || ctl->json)
    {
      g_printerr ("devbgctl monitor: takes no arguments (and no --json: see tasks --watch)\n");
      return 2;
    }
  if (!isatty (STDIN_FILENO) || !isatty (STDOUT_FILENO))
    {
      g_printerr ("devbgctl monitor: needs a terminal (for scripts: devbgctl tasks --watch)\n");
      return 2;
    }
  if ((m.client = devbgctl_client (ctl)) == NULL)
    return 1;
  m.cancellable = g_cancellable_new ();
  m.running = g_ptr_array_new_with_free_func (g_object_unref);
  m.ended = g_ptr_array_new_with_free_func (g_object_unref);
  /* Connected first, then watched: no event falls in between. */
  g_signal_connect (m.client, "task-changed", G_CALLBACK (on_task_changed), &m);
  g_signal_connect (m.client, "task-ended", G_CALLBACK (on_task_ended), &m);
  tasks = devbg_client_watch_tasks_sync (m.client, NULL, &error);
  m.status = devbg_client_get_status_sync (m.client, NULL, NULL);
  if (tasks == NULL)
    {
      g_signal_handlers_disconnect_by_data (m.client, &m);
      g_ptr_array_unref (m.running);
      g_ptr_array_unref (m.ended);
      g_clear_pointer (&m.status, g_variant_unref);
      g_clear_object (&m.cancellable);
      return devbgctl_fail ("monitor", error);
    }
  for (guint i = 0; i < tasks->len; i++)
    g_ptr_array_add (m.running, g_object_ref (g_ptr_array_index (tasks, i)));
  g_ptr_array_sort (m.running, by_start);

  loop = g_main_loop_new (NULL, FALSE);
  m.loop = loop;
  if (!terminal_enter (&m))
    {
      g_printerr ("devbgctl monitor: cannot set up the terminal\n");
      return 1;
    }
  sources[0] = g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP, on_key, &m);
  sources[1] = g_unix_signal_add (SIGINT, on_quit_signal, &m);
  sources[2] = g_unix_signal_add (SIGTERM, on_quit_signal, &m);
  sources[3] = g_unix_signal_add (SIGWINCH, on_resize, &m);
  g_signal_connect (devbg_client_get_connection (m.client), "closed", G_CALLBACK (on_closed), &m);
  redraw (&m);
  g_main_loop_run (loop);

  terminal_leave (&m);
  for (guint i = 0; i < G_N_ELEMENTS (sources); i++)
    g_source_remove (sources[i]);
  g_signal_handlers_disconnect_by_data (m.client, &m);
  g_signal_handlers_disconnect_by_data (devbg_client_get_connection (m.client), &m);
  /* Replies still in flight get CANCELLED and leave @m alone. */
  g_cancellable_cancel (m.cancellable);
  g_clear_object (&m.cancellable);
  g_ptr_array_unref (m.running);
  g_ptr_array_unref (m.ended);
  g_clear_pointer (&m.status, g_variant_unref);
  g_free (m.message);
  return 0;
}
