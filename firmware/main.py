# main.py: the board runs this after boot.py on every reset and every wake from deep sleep.
import app

app.main()
