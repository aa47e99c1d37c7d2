/* postsearch widget: placeholder until the widget lands */
