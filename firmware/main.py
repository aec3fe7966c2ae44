# main.py: the board runs this after boot.py on every reset and every wake from deep sleep.
# loader.start() puts the active app directory on sys.path (app updates over the link: loader.py, update.py),
# rolls back a new version that fails its trial, and imports the app.
import loader

loader.start().main()
