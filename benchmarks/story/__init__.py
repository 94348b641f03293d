"""The tutorial's story as load (`make story`): its stages served side by side with this API."""
